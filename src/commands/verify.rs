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
use crate::model::ExternalId;
use crate::plan::ownership::{Owner, Ownership};
use crate::plan::{BuildOptions, LiveIdentities};
use crate::printer;
use crate::render::verify_report::{
    self, Counts, FailedLogin, LISTED_UNDECLARED, LoginGroup, Logins as LoginReport, Undeclared,
};
use crate::wire;

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
    let counts = Counts::of(plan, &names, &live.identities.owned_by_source, &undeclared);
    ok &= counts.ok;
    lines.push(verify_report::counts(&counts));
    lines.push(verify_report::pending(plan));
    ok &= verify_report::undeclared(&undeclared, manifest.policy.prune, args.strict, &mut lines);

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
                check
                    .report
                    .sampled(rows.len(), total, &path, seed, seed_given);
            }
            Logins::All(mut file) => {
                let path = file.path().display().to_string();
                while let Some(row) = file.next_row()? {
                    check.row(&row, &path).await?;
                }
            }
        }
        ok &= check.report.report(&mut lines);
    }
    printer::stdout(&(lines.join("\n") + "\n"))?;
    if let Some(s) = conn.sandbox {
        let _ = s.shutdown().await;
    }
    Ok(if ok { Exit::Success } else { Exit::Failure })
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
            entry
                .first
                .push(ExternalId::from(l.external_id.unwrap_or_default()));
        }
    })?;
    Ok(out)
}

/// Test logins against the tenant, each counted under the source of the identity it
/// reaches.
struct LoginCheck<'a> {
    client: &'a Client,
    ownership: &'a Ownership,
    organization_id: Option<&'a str>,
    report: LoginReport,
}

impl<'a> LoginCheck<'a> {
    fn new(client: &'a Client, ownership: &'a Ownership, organization_id: Option<&'a str>) -> Self {
        Self {
            client,
            ownership,
            organization_id,
            report: LoginReport::default(),
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
            None => LoginGroup::NoIdentity,
            Some(i) => match self.ownership.owner(&i.admin_metadata) {
                Owner::Ours(s) | Owner::Adopted(s) => LoginGroup::Source(s.to_string()),
                Owner::Foreign(_) | Owner::Unmarked => LoginGroup::NotOurs,
            },
        };
        match outcome {
            LoginOutcome::Success { .. } => self.report.passed(group),
            LoginOutcome::Rejected { code, message } => self.report.failed(
                group,
                &FailedLogin {
                    identifier: &row.identifier,
                    path,
                    line: row.line,
                    code: &code,
                    message: &message,
                },
            ),
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
}
