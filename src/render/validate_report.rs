//! `validate`'s report: the counts per source, skipped and invalid records, the password
//! report and warnings of a counted plan, as text for people or as one JSON document
//! (`schemas/validate-report.schema.json`).

use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::escape::terminal;
use crate::manifest::{MANIFEST_CLIENTS, Manifest, OnInvalid};
use crate::model::ClientDecl;
use crate::plan::build::BuiltPlan;
use crate::plan::{PasswordReport, SkippedRecord, SourceTally};

/// Version of the `validate --format json` document; bumped on incompatible changes.
pub const REPORT_VERSION: u32 = 1;

/// What `validate --format json` prints: one JSON document. It holds counts, record
/// positions, external ids and reasons; never a password hash, a secret, an email or a name
/// (a duplicate-email reason quotes the email, as the text report does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ValidateReport {
    /// [`REPORT_VERSION`].
    pub format_version: u32,
    /// Whether `plan` would accept the sources: false when a record is invalid and
    /// `[policy] on_invalid = "fail"`.
    pub valid: bool,
    /// The manifest, as given.
    pub manifest: String,
    /// `[policy] on_invalid`: `fail` or `skip`.
    pub on_invalid: String,
    /// Totals over every source.
    pub totals: ReportTotals,
    /// One entry per `[[users]]` source, `[[client_sources]]` source and (as `manifest`)
    /// the `[[clients]]` entries, in manifest order.
    pub sources: Vec<SourceReport>,
    /// Records left out on purpose (no email, anonymous, …): the first 1000.
    pub skipped: Vec<RecordReport>,
    /// Invalid records: the first 1000.
    pub invalid: Vec<RecordReport>,
    /// Per `[[users]]` source: which passwords carry over and which users must reset.
    pub passwords: Vec<PasswordReport>,
    /// Warnings for the reviewer.
    pub warnings: Vec<String>,
}

/// Totals of a validate report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReportTotals {
    /// User records read.
    pub user_records: u64,
    /// Identities accepted.
    pub identities: u64,
    /// OAuth clients accepted.
    pub oauth_clients: u64,
    /// Service accounts accepted.
    pub service_accounts: u64,
    /// Records skipped on purpose.
    pub skipped: u64,
    /// Invalid records.
    pub invalid: u64,
}

/// Counts of one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceReport {
    /// The source name (`manifest` for `[[clients]]`).
    pub name: String,
    /// `users`, `clients` (a `[[client_sources]]` export) or `manifest_clients`.
    pub kind: String,
    /// The provider (`auth0`, `clerk`, `firebase`, `cognito`), or `manifest`.
    pub provider: String,
    /// Identities accepted (users sources).
    pub identities: u64,
    /// OAuth clients accepted.
    pub oauth_clients: u64,
    /// Service accounts accepted.
    pub service_accounts: u64,
    /// Records skipped on purpose.
    pub skipped: u64,
    /// Invalid records.
    pub invalid: u64,
}

/// A skipped or invalid record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RecordReport {
    /// Its source.
    pub source: String,
    /// Where it is, as the text report prints it: `file:line (record N)`.
    pub location: String,
    /// The file (relative to the working directory, or as the manifest names it).
    pub file: String,
    /// The 1-based line where the record starts, where the format has lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The 1-based position of the record in its file (or the `[[clients]]` entry number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    /// The record's provider id, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Why it is skipped or invalid.
    pub reason: String,
}

impl RecordReport {
    fn of(r: &SkippedRecord) -> Self {
        let (file, line, record) = split_location(&r.location);
        RecordReport {
            source: r.source.clone(),
            location: r.location.clone(),
            file,
            line,
            record,
            external_id: r.external_id.as_ref().map(ToString::to_string),
            reason: r.reason.clone(),
        }
    }
}

/// Splits `file:line (record N)` (or `file ([[clients]] entry N)`) into its parts.
fn split_location(location: &str) -> (String, Option<u64>, Option<u64>) {
    let (mut head, record) = match location.rsplit_once(" (") {
        Some((head, tail)) => {
            let n = tail
                .trim_end_matches(')')
                .rsplit(' ')
                .next()
                .and_then(|n| n.parse::<u64>().ok());
            (head, n)
        }
        None => (location, None),
    };
    let mut line = None;
    if let Some((file, l)) = head.rsplit_once(':')
        && let Ok(l) = l.parse::<u64>()
    {
        head = file;
        line = Some(l);
    }
    (head.to_string(), line, record)
}

/// The JSON Schema of `validate --format json`, as checked in at
/// `schemas/validate-report.schema.json` (a test fails when the two differ).
pub fn json_schema() -> String {
    let mut schema =
        serde_json::to_value(schemars::schema_for!(ValidateReport)).unwrap_or_default();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert(
            "title".into(),
            "avnology-migrate validate --format json".into(),
        );
    }
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

/// The counts of every source of `manifest` in a counted plan, in manifest order: the
/// `[[users]]` sources, the `[[client_sources]]`, then (as `manifest`) the `[[clients]]`.
fn source_reports(manifest: &Manifest, built: &BuiltPlan) -> Vec<SourceReport> {
    let tally = |name: &str| -> SourceTally {
        built
            .plan
            .footer
            .tallies
            .iter()
            .find(|t| t.source == name)
            .cloned()
            .unwrap_or_default()
    };
    let mut sources = Vec::new();
    for source in &manifest.users {
        let t = tally(&source.name);
        sources.push(SourceReport {
            name: source.name.clone(),
            kind: "users".into(),
            provider: source.provider.as_str().into(),
            identities: t.accepted,
            oauth_clients: 0,
            service_accounts: 0,
            skipped: t.skipped,
            invalid: t.invalid,
        });
    }
    let mut client_sources: Vec<(&str, &str, &str)> = manifest
        .client_sources
        .iter()
        .map(|s| (s.name.as_str(), "clients", s.provider.as_str()))
        .collect();
    if !manifest.clients.is_empty() {
        client_sources.push((MANIFEST_CLIENTS, "manifest_clients", MANIFEST_CLIENTS));
    }
    for (name, kind, provider) in client_sources {
        let t = tally(name);
        let (mut oauth_clients, mut service_accounts) = (0, 0);
        for d in built.clients.clients.values().filter(|d| d.source == name) {
            match d.decl {
                ClientDecl::OAuth(_) => oauth_clients += 1,
                ClientDecl::ServiceAccount(_) => service_accounts += 1,
            }
        }
        sources.push(SourceReport {
            name: name.into(),
            kind: kind.into(),
            provider: provider.into(),
            identities: 0,
            oauth_clients,
            service_accounts,
            skipped: t.skipped,
            invalid: t.invalid,
        });
    }
    sources
}

/// The JSON report of a counted plan.
pub fn report(manifest: &Manifest, built: &BuiltPlan) -> ValidateReport {
    let plan = &built.plan;
    let sources = source_reports(manifest, built);
    let summary = plan.summary();
    let totals = ReportTotals {
        user_records: summary.source_records,
        identities: sources.iter().map(|s| s.identities).sum(),
        oauth_clients: sources.iter().map(|s| s.oauth_clients).sum(),
        service_accounts: sources.iter().map(|s| s.service_accounts).sum(),
        skipped: summary.skipped,
        invalid: summary.invalid,
    };
    ValidateReport {
        format_version: REPORT_VERSION,
        valid: !(summary.invalid > 0 && manifest.policy.on_invalid == OnInvalid::Fail),
        manifest: manifest.path.display().to_string(),
        on_invalid: match manifest.policy.on_invalid {
            OnInvalid::Fail => "fail".into(),
            OnInvalid::Skip => "skip".into(),
        },
        totals,
        sources,
        skipped: plan.footer.skipped.iter().map(RecordReport::of).collect(),
        invalid: plan.footer.invalid.iter().map(RecordReport::of).collect(),
        passwords: plan.footer.passwords.clone(),
        warnings: plan.footer.warnings.clone(),
    }
}

/// The text report of a counted plan whose manifest is valid: a line per source, then the
/// plan's password report and warnings (without its listing of creates).
pub fn text(manifest: &Manifest, built: &BuiltPlan) -> String {
    // Source names and paths are the manifest's own strings: escaped like export values.
    let mut text = format!(
        "Manifest {} is valid.\n",
        terminal(&manifest.path.display().to_string())
    );
    for s in source_reports(manifest, built) {
        // Writing to a String cannot fail.
        let _ = match s.kind.as_str() {
            "users" => writeln!(
                text,
                "  source `{}` ({}): {} identities, {} skipped, {} invalid",
                terminal(&s.name),
                s.provider,
                s.identities,
                s.skipped,
                s.invalid
            ),
            "clients" => writeln!(
                text,
                "  client source `{}` ({}): {} OAuth clients, {} service accounts, {} skipped, {} invalid",
                terminal(&s.name),
                s.provider,
                s.oauth_clients,
                s.service_accounts,
                s.skipped,
                s.invalid
            ),
            _ => writeln!(
                text,
                "  [[clients]]: {} OAuth clients",
                manifest.clients.len()
            ),
        };
    }
    let rendered = super::text::render(&built.plan, super::text::TextOptions::default());
    for line in rendered.lines().filter(|l| {
        l.starts_with("Passwords")
            || l.starts_with("warning:")
            || l.starts_with("  ! ")
            || l.starts_with("! ")
    }) {
        text.push_str(line);
        text.push('\n');
    }
    text
}
