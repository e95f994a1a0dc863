//! `verify`'s report: one line per check, marked `ok  `, `FAIL` or `WARN` — the counts, the
//! pending plan, identities no source declares any more, and the test logins per source.
//! Every value from the tenant, the manifest or the logins file is escaped, so each check
//! stays one line.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use super::escape::terminal;
use crate::model::ExternalId;
use crate::plan::{Action, ObjectKind, Plan};

/// How many external ids of undeclared identities are named per source.
pub const LISTED_UNDECLARED: usize = 5;
/// How many failed identifiers are named per source.
const LISTED_FAILED: usize = 5;
/// How many failed logins get a line of their own (with the server's answer).
const DETAILED_FAILURES: u64 = 20;

/// The mark of a check that passed or failed.
pub fn mark(ok: bool) -> &'static str {
    if ok { "ok  " } else { "FAIL" }
}

/// The counts `verify` reconciles.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// Whether they reconcile (and the plan is empty).
    pub ok: bool,
    /// User records read.
    pub user_records: u64,
    /// Records the sources declare.
    pub declared: u64,
    /// Records skipped on purpose.
    pub skipped: u64,
    /// Invalid records.
    pub invalid: u64,
    /// Identities of this manifest's sources in the tenant.
    pub owned: u64,
    /// Of those, the ones no source declares any more.
    pub undeclared: u64,
}

impl Counts {
    /// The counts of `plan`, a counted plan, for the `[[users]]` sources named `sources`:
    /// the records they declare against the live identities each owns (`owned_by_source`,
    /// by owner marker), of which `undeclared` are no longer in any source.
    pub fn of<S: BuildHasher>(
        plan: &Plan,
        sources: &[&str],
        owned_by_source: &HashMap<String, u64, S>,
        undeclared: &BTreeMap<String, Undeclared>,
    ) -> Counts {
        let undeclared: u64 = undeclared
            .iter()
            .filter(|(s, _)| sources.contains(&s.as_str()))
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
        let owned: u64 = sources.iter().filter_map(|n| owned_by_source.get(*n)).sum();
        let (skipped, invalid) = plan
            .footer
            .tallies
            .iter()
            .filter(|t| sources.contains(&t.source.as_str()))
            .fold((0, 0), |(s, i), t| (s + t.skipped, i + t.invalid));
        Counts {
            // Undeclared identities are reported (and judged) on their own line.
            ok: plan.is_empty() && declared + undeclared == owned,
            user_records: summary.source_records,
            declared,
            skipped,
            invalid,
            owned,
            undeclared,
        }
    }
}

/// The line of the counts.
pub fn counts(c: &Counts) -> String {
    format!(
        "{} counts: {} user records: {} to migrate, {} skipped, {} invalid; {} migrated identities in the tenant{}",
        mark(c.ok),
        c.user_records,
        c.declared,
        c.skipped,
        c.invalid,
        c.owned,
        match c.undeclared {
            0 => String::new(),
            n => format!(", {n} of them no longer in the sources"),
        }
    )
}

/// The line of the pending plan.
pub fn pending(plan: &Plan) -> String {
    format!(
        "{} plan: {}",
        mark(plan.is_empty()),
        if plan.is_empty() {
            "no changes".to_string()
        } else {
            format!("{} change(s) pending", plan.total_changes())
        }
    )
}

/// Live identities of one source that no source declares.
#[derive(Debug, Default)]
pub struct Undeclared {
    /// How many.
    pub count: u64,
    /// Whether the source is an adopted one.
    pub adopted: bool,
    /// The first few external ids, in listing order.
    pub first: Vec<ExternalId>,
}

/// Adds the lines about undeclared identities; returns whether the check passed. They are
/// a warning by default: at cutover, a user deleted in the old provider is expected, and
/// `prune` is the manifest's decision. `strict` makes them a failure.
pub fn undeclared(
    by_source: &BTreeMap<String, Undeclared>,
    prune: bool,
    strict: bool,
    lines: &mut Vec<String>,
) -> bool {
    if by_source.is_empty() {
        lines.push(format!(
            "{} not in the sources: none (every identity of this manifest's sources in the tenant is declared)",
            mark(true)
        ));
        return true;
    }
    let flag = if strict { mark(false) } else { "WARN" };
    for (source, u) in by_source {
        let more = u.count.saturating_sub(u.first.len() as u64);
        lines.push(format!(
            "{flag} not in the sources: source `{}`{}: {} identit{} in the tenant that no source declares any more: {}{}",
            terminal(source),
            if u.adopted { " (adopted)" } else { "" },
            u.count,
            if u.count == 1 { "y" } else { "ies" },
            quoted(&u.first),
            if more > 0 { more_of(more) } else { String::new() }
        ));
    }
    lines.push(if prune {
        "     hint: prune = true: the plan deletes them; run apply".to_string()
    } else {
        "     hint: deleted in the old provider, or left out of the export? `prune = true` under [policy] deletes them at the next apply (within max_deletes); `verify --strict` fails on them".to_string()
    });
    !strict
}

/// What a list of the first few leaves out.
fn more_of(more: u64) -> String {
    format!(" … and {more} more")
}

/// `values`, each escaped in backticks, joined with commas.
fn quoted(values: &[impl AsRef<str>]) -> String {
    values
        .iter()
        .map(|v| format!("`{}`", terminal(v.as_ref())))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which part of the report a login row counts in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum LoginGroup {
    /// The identity's owner marker names this source of the manifest (own or adopted).
    Source(String),
    /// The identity belongs to another source or carries no owner marker.
    NotOurs,
    /// No identity has the row's identifier.
    NoIdentity,
}

/// Logins of one group.
#[derive(Debug, Default)]
struct LoginTally {
    total: u64,
    passed: u64,
    /// The first few identifiers that failed, in file order.
    failed: Vec<String>,
}

/// A failed login, as the logins file and the server tell it.
#[derive(Debug, Clone, Copy)]
pub struct FailedLogin<'a> {
    /// The row's identifier.
    pub identifier: &'a str,
    /// The logins file.
    pub path: &'a str,
    /// The row's line.
    pub line: u64,
    /// The server's error code.
    pub code: &'a str,
    /// The server's message.
    pub message: &'a str,
}

/// The test logins' part of the report, counted per group in bounded memory (counts and a
/// few identifiers).
#[derive(Debug, Default)]
pub struct Logins {
    groups: BTreeMap<LoginGroup, LoginTally>,
    /// Lines for the first failures, with the server's answer.
    details: Vec<String>,
    failures: u64,
    /// Added to the total line (the sample and its seed).
    note: String,
}

impl Logins {
    /// Counts a login that succeeded.
    pub fn passed(&mut self, group: LoginGroup) {
        let tally = self.groups.entry(group).or_default();
        tally.total += 1;
        tally.passed += 1;
    }

    /// Counts a login that failed.
    pub fn failed(&mut self, group: LoginGroup, failure: &FailedLogin<'_>) {
        let tally = self.groups.entry(group).or_default();
        tally.total += 1;
        if tally.failed.len() < LISTED_FAILED {
            tally.failed.push(failure.identifier.to_string());
        }
        self.failures += 1;
        if self.failures <= DETAILED_FAILURES {
            // The identifier is the logins file's and the rest the server's: escaped, so each
            // failure stays one line.
            self.details.push(format!(
                "{} login `{}` ({}:{}): {} {}",
                mark(false),
                terminal(failure.identifier),
                terminal(failure.path),
                failure.line,
                terminal(failure.code),
                terminal(failure.message)
            ));
        }
    }

    /// Says the rows were a random sample: `rows` of the `total` rows of `path`, drawn with
    /// `seed` (and how to draw it again when the seed was not given).
    pub fn sampled(&mut self, rows: usize, total: u64, path: &str, seed: u64, seed_given: bool) {
        self.note = format!(
            " (a random sample of {rows} of the {total} rows of {}, seed {seed}{})",
            terminal(path),
            if seed_given {
                String::new()
            } else {
                format!("; `--seed {seed}` repeats it")
            }
        );
    }

    /// Adds the failure lines, one line per group and the total; returns whether every
    /// login succeeded.
    pub fn report(self, lines: &mut Vec<String>) -> bool {
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
                LoginGroup::Source(s) => format!("logins of source `{}`", terminal(s)),
                LoginGroup::NotOurs => {
                    "logins of identities of no source of this manifest".to_string()
                }
                LoginGroup::NoIdentity => {
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
                line.push_str("; failed: ");
                line.push_str(&quoted(&t.failed));
                let more = failed - t.failed.len() as u64;
                if more > 0 {
                    line.push_str(&more_of(more));
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
