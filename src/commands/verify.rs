//! `avnology-migrate verify`: after apply, and again at cutover, check that counts
//! reconcile, the plan is empty, identities of this manifest's sources that no source
//! declares any more are reported, and test logins succeed through the login flow, counted
//! per source. `--sample N` logs in N rows of the logins file chosen at random.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::logins::{self, LoginRow, LoginsFile};
use super::target;
use crate::cli::GlobalArgs;
use crate::error::Exit;
use crate::live::{Client, LoginOutcome, filter};
use crate::manifest::Manifest;
use crate::plan::ownership::{Owner, Ownership};
use crate::plan::{Action, BuildOptions, LiveIdentities, ObjectKind};
use crate::printer;
use crate::render::escape::terminal;
use crate::wire;

/// How many external ids of undeclared identities are named per source.
const LISTED_UNDECLARED: usize = 5;
/// How many failed identifiers are named per source.
const LISTED_FAILED: usize = 5;
/// How many failed logins get a line of their own (with the server's answer).
const DETAILED_FAILURES: u64 = 20;

/// Check that the tenant matches the manifest and that test users can log in.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The manifest.
    #[arg(short, long, default_value = "migration.toml")]
    pub manifest: PathBuf,
    /// A CSV with the header `identifier,password`; every row (or every sampled row) must
    /// log in.
    #[arg(long)]
    pub logins: Option<PathBuf>,
    /// Log in only N rows of the logins file, chosen uniformly at random.
    #[arg(long, value_name = "N", requires = "logins", value_parser = clap::value_parser!(u64).range(1..))]
    pub sample: Option<u64>,
    /// The seed of `--sample`'s random choice, to repeat a sample (a run without it prints
    /// the seed it drew).
    #[arg(long, value_name = "S", requires = "sample")]
    pub seed: Option<u64>,
    /// Fail, not only warn, when identities of this manifest's sources exist in the tenant
    /// that no source declares any more.
    #[arg(long)]
    pub strict: bool,
}

/// The rows to log in: read before anything is sent, so a malformed logins file stops
/// verify before it touches the tenant.
enum Logins {
    /// A random sample, held in memory (N rows).
    Sample {
        rows: Vec<LoginRow>,
        total: u64,
        seed: u64,
        seed_given: bool,
    },
    /// Every row, streamed; the file was checked whole first.
    All(LoginsFile),
}

/// Runs `verify`.
pub async fn run(args: VerifyArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let manifest = crate::manifest::load(&args.manifest)?;
    let logins = match &args.logins {
        None => None,
        Some(path) => Some(if let Some(n) = args.sample {
            let seed = args.seed.unwrap_or_else(rand::random);
            let (rows, total) = logins::sample(LoginsFile::open(path)?, n, seed)?;
            Logins::Sample {
                rows,
                total,
                seed,
                seed_given: args.seed.is_some(),
            }
        } else {
            LoginsFile::open(path)?.check_all()?;
            Logins::All(LoginsFile::open(path)?)
        }),
    };
    let conn = target::connect(&manifest, global).await?;
    let mut live = target::read_live(&conn.client, manifest.target.organization.as_deref()).await?;
    let options = BuildOptions {
        count_only: true,
        // This plan is only counted, never applied: pending deletes show as changes rather
        // than stopping verify at `max_deletes`.
        max_deletes: Some(u64::MAX),
        ..BuildOptions::default()
    };
    let built = target::build_plan(&manifest, &mut live, options)?;
    let plan = &built.plan;
    let ownership = Ownership::of(&manifest);
    let mut ok = true;
    let mut lines = Vec::new();

    // The plan marked every live identity a source declares; the rest of this manifest's
    // are the ones its sources no longer hold.
    let undeclared = undeclared_by_source(&mut live.identities, &ownership)?;
    let names: Vec<&str> = manifest.users.iter().map(|u| u.name.as_str()).collect();
    let undeclared_own: u64 = undeclared
        .iter()
        .filter(|(s, _)| names.contains(&s.as_str()))
        .map(|(_, u)| u.count)
        .sum();

    // Identities only: clients have no logins and are checked by the empty plan.
    let identity_changes: u64 = plan
        .footer
        .groups
        .iter()
        .filter(|g| g.kind == ObjectKind::Identity && g.action != Action::Delete)
        .map(|g| g.count)
        .sum();
    let summary = plan.summary();
    let declared = summary.no_op - summary.clients.no_op + identity_changes;
    let owned: u64 = names
        .iter()
        .filter_map(|n| live.identities.owned_by_source.get(*n))
        .sum();
    // Undeclared identities are reported (and judged) on their own line below.
    let counts_ok = plan.is_empty() && declared + undeclared_own == owned;
    ok &= counts_ok;
    let (skipped_users, invalid_users) = plan
        .footer
        .tallies
        .iter()
        .filter(|t| names.contains(&t.source.as_str()))
        .fold((0, 0), |(s, i), t| (s + t.skipped, i + t.invalid));
    lines.push(format!(
        "{} counts: {} user records: {declared} to migrate, {skipped_users} skipped, {invalid_users} invalid; {owned} migrated identities in the tenant{}",
        mark(counts_ok),
        summary.source_records,
        if undeclared_own > 0 {
            format!(", {undeclared_own} of them no longer in the sources")
        } else {
            String::new()
        }
    ));
    lines.push(format!(
        "{} plan: {}",
        mark(plan.is_empty()),
        if plan.is_empty() {
            "no changes".to_string()
        } else {
            format!("{} change(s) pending", plan.total_changes())
        }
    ));
    ok &= report_undeclared(&undeclared, &manifest, args.strict, &mut lines);

    if let Some(logins) = logins {
        let organization_id = live.organization.as_ref().map(|o| o.id.as_str());
        let mut check = LoginCheck::new(&conn.client, &ownership, organization_id);
        match logins {
            Logins::Sample {
                rows,
                total,
                seed,
                seed_given,
            } => {
                let path = args.logins.as_ref().map(|p| p.display().to_string());
                let path = path.unwrap_or_default();
                for row in &rows {
                    check.row(row, &path).await?;
                }
                check.note = format!(
                    " (a random sample of {} of the {total} rows of {}, seed {seed}{})",
                    rows.len(),
                    terminal(&path),
                    if seed_given {
                        String::new()
                    } else {
                        format!("; `--seed {seed}` repeats it")
                    }
                );
            }
            Logins::All(mut file) => {
                let path = file.path().display().to_string();
                while let Some(row) = file.next_row()? {
                    check.row(&row, &path).await?;
                }
            }
        }
        ok &= check.report(&mut lines);
    }
    printer::stdout(&(lines.join("\n") + "\n"))?;
    if let Some(s) = conn.sandbox {
        let _ = s.shutdown().await;
    }
    Ok(if ok { Exit::Success } else { Exit::Failure })
}

/// Live identities of one source that no source declares.
#[derive(Debug, Default)]
struct Undeclared {
    count: u64,
    adopted: bool,
    /// The first few external ids, in listing order.
    first: Vec<String>,
}

/// This manifest's identities (own or adopted sources) that no source declared in the plan
/// just built, per source: a count and the first few external ids. Identities scheduled
/// for deletion are already on their way out and are not counted.
fn undeclared_by_source(
    identities: &mut LiveIdentities,
    ownership: &Ownership,
) -> anyhow::Result<BTreeMap<String, Undeclared>> {
    let mut out: BTreeMap<String, Undeclared> = BTreeMap::new();
    identities.for_each_undeclared(|l| {
        if l.state == wire::IdentityState::ScheduledDeletion {
            return;
        }
        let (source, adopted) = match ownership.owner(&l.admin_metadata) {
            Owner::Ours(s) => (s, false),
            Owner::Adopted(s) => (s, true),
            Owner::Foreign(_) | Owner::Unmarked => return,
        };
        let entry = out.entry(source.to_string()).or_default();
        entry.count += 1;
        entry.adopted = adopted;
        if entry.first.len() < LISTED_UNDECLARED {
            entry.first.push(l.external_id.unwrap_or_default());
        }
    })?;
    Ok(out)
}

/// Adds the lines about undeclared identities; returns whether the check passed. They are
/// a warning by default: at cutover, a user deleted in the old provider is expected, and
/// `prune` is the manifest's decision. `--strict` makes them a failure.
fn report_undeclared(
    undeclared: &BTreeMap<String, Undeclared>,
    manifest: &Manifest,
    strict: bool,
    lines: &mut Vec<String>,
) -> bool {
    if undeclared.is_empty() {
        lines.push(format!(
            "{} not in the sources: none (every identity of this manifest's sources in the tenant is declared)",
            mark(true)
        ));
        return true;
    }
    let flag = if strict { mark(false) } else { "WARN" };
    for (source, u) in undeclared {
        let ids: Vec<String> = u
            .first
            .iter()
            .map(|id| format!("`{}`", terminal(id)))
            .collect();
        let more = u.count.saturating_sub(u.first.len() as u64);
        lines.push(format!(
            "{flag} not in the sources: source `{}`{}: {} identit{} in the tenant that no source declares any more: {}{}",
            terminal(source),
            if u.adopted { " (adopted)" } else { "" },
            u.count,
            if u.count == 1 { "y" } else { "ies" },
            ids.join(", "),
            if more > 0 {
                format!(" … and {more} more")
            } else {
                String::new()
            }
        ));
    }
    lines.push(if manifest.policy.prune {
        "     hint: prune = true: the plan deletes them; run apply".to_string()
    } else {
        "     hint: deleted in the old provider, or left out of the export? `prune = true` under [policy] deletes them at the next apply (within max_deletes); `verify --strict` fails on them".to_string()
    });
    !strict
}

/// Which part of the report a login row counts in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    /// The identity's owner marker names this source of the manifest (own or adopted).
    Source(String),
    /// The identity belongs to another source or carries no owner marker.
    NotOurs,
    /// No identity has the row's identifier.
    NoIdentity,
}

/// Logins of one group.
#[derive(Debug, Default)]
struct Tally {
    total: u64,
    passed: u64,
    /// The first few identifiers that failed, in file order.
    failed: Vec<String>,
}

/// Test logins, counted per source in bounded memory (counts and a few identifiers).
struct LoginCheck<'a> {
    client: &'a Client,
    ownership: &'a Ownership,
    organization_id: Option<&'a str>,
    groups: BTreeMap<Group, Tally>,
    /// Lines for the first failures, with the server's answer.
    details: Vec<String>,
    failures: u64,
    /// Added to the total line (the sample and its seed).
    note: String,
}

impl<'a> LoginCheck<'a> {
    fn new(client: &'a Client, ownership: &'a Ownership, organization_id: Option<&'a str>) -> Self {
        Self {
            client,
            ownership,
            organization_id,
            groups: BTreeMap::new(),
            details: Vec::new(),
            failures: 0,
            note: String::new(),
        }
    }

    /// Logs `row` in and counts it under the source of the identity it reaches.
    async fn row(&mut self, row: &LoginRow, path: &str) -> anyhow::Result<()> {
        let outcome = self.client.login(&row.identifier, &row.password).await?;
        let identity = match &outcome {
            LoginOutcome::Success { identity_id } => {
                Some(self.client.get_identity(identity_id).await?)
            }
            LoginOutcome::Rejected { .. } => self.find(&row.identifier).await?,
        };
        let group = match identity {
            None => Group::NoIdentity,
            Some(i) => match self.ownership.owner(&i.admin_metadata) {
                Owner::Ours(s) | Owner::Adopted(s) => Group::Source(s.to_string()),
                Owner::Foreign(_) | Owner::Unmarked => Group::NotOurs,
            },
        };
        let tally = self.groups.entry(group).or_default();
        tally.total += 1;
        match outcome {
            LoginOutcome::Success { .. } => tally.passed += 1,
            LoginOutcome::Rejected { code, message } => {
                if tally.failed.len() < LISTED_FAILED {
                    tally.failed.push(row.identifier.clone());
                }
                self.failures += 1;
                if self.failures <= DETAILED_FAILURES {
                    // The identifier is the logins file's and the rest the server's: escaped,
                    // so each failure stays one line.
                    self.details.push(format!(
                        "{} login `{}` ({}:{}): {} {}",
                        mark(false),
                        terminal(&row.identifier),
                        terminal(path),
                        row.line,
                        terminal(&code),
                        terminal(&message)
                    ));
                }
            }
        }
        Ok(())
    }

    /// The identity a rejected login named, by email or (without an `@`) username, in the
    /// target organization. Checked again on our side, like every lookup by filter.
    async fn find(&self, identifier: &str) -> anyhow::Result<Option<wire::Identity>> {
        let field = if identifier.contains('@') {
            "email"
        } else {
            "username"
        };
        let mut terms = vec![(field, identifier)];
        if let Some(org) = self.organization_id {
            terms.push(("organization_id", org));
        }
        let page = self
            .client
            .list_identities(Some(&filter::all_equal(&terms)), 10, None)
            .await?;
        let wanted = identifier.trim().to_lowercase();
        Ok(page.identities.into_iter().find(|i| {
            let value = if field == "email" {
                Some(i.email.as_str())
            } else {
                i.username.as_deref()
            };
            value.is_some_and(|v| v.to_lowercase() == wanted)
        }))
    }

    /// Adds the failure lines, one line per group and the total; returns whether every
    /// login succeeded.
    fn report(self, lines: &mut Vec<String>) -> bool {
        lines.extend(self.details);
        if self.failures > DETAILED_FAILURES {
            lines.push(format!(
                "{} … and {} more failed logins",
                mark(false),
                self.failures - DETAILED_FAILURES
            ));
        }
        let (mut passed, mut total) = (0, 0);
        for (group, t) in &self.groups {
            passed += t.passed;
            total += t.total;
            let what = match group {
                Group::Source(s) => format!("logins of source `{}`", terminal(s)),
                Group::NotOurs => "logins of identities of no source of this manifest".to_string(),
                Group::NoIdentity => {
                    "logins of identifiers with no identity in the tenant".to_string()
                }
            };
            let failed = t.total - t.passed;
            let mut line = format!(
                "{} {what}: {} of {} succeeded",
                mark(failed == 0),
                t.passed,
                t.total
            );
            if failed > 0 {
                let ids: Vec<String> = t
                    .failed
                    .iter()
                    .map(|id| format!("`{}`", terminal(id)))
                    .collect();
                line.push_str(&format!("; failed: {}", ids.join(", ")));
                let more = failed - t.failed.len() as u64;
                if more > 0 {
                    line.push_str(&format!(" … and {more} more"));
                }
            }
            lines.push(line);
        }
        lines.push(format!(
            "{} logins: {passed} of {total} succeeded{}",
            mark(passed == total),
            self.note
        ));
        passed == total
    }
}

fn mark(ok: bool) -> &'static str {
    if ok { "ok  " } else { "FAIL" }
}
