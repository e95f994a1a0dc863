//! Computing a plan: stream every source, compare each record with the live snapshot as it
//! arrives, and keep only the changes. Memory grows with the live snapshot and the change
//! set, not with the size of the exports.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::clients::{DesiredClient, plan_clients, unowned};
use super::{
    Action, Change, FORMAT_VERSION, FileDigest, ObjectKind, PasswordReport, Plan, PlanTarget,
    SkippedRecord, SourceDigest, Summary,
};
use crate::diff::{self, IdentityAction};
use crate::live::wire;
use crate::manifest::{Manifest, OnInvalid, TargetUrl};
use crate::model::{Identity, PasswordHash};
use crate::sources::{self, SourceError, UserItem};

/// What the tenant holds, read before planning.
#[derive(Debug, Default)]
pub struct LiveState {
    /// The target organization, if it exists.
    pub organization: Option<wire::Organization>,
    /// Live identities in the organization, by external_id.
    pub identities: HashMap<String, wire::Identity>,
    /// Live identities in the organization without an external_id (never ours).
    pub without_external_id: u64,
    /// Live OAuth clients in the organization, by external_id.
    pub oauth_clients: HashMap<String, wire::OAuthClient>,
    /// Live service accounts in the organization, by external_id.
    pub service_accounts: HashMap<String, wire::ServiceAccount>,
}

/// Options for [`build`].
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildOptions {
    /// Plan the removal of everything this manifest owns.
    pub destroy: bool,
    /// Keep the desired records of the changes (with their password hashes) for an apply
    /// that follows. Off for `validate` and `plan`, so memory does not grow with the export.
    pub keep_desired: bool,
    /// Count identity changes without listing them (`validate`): memory then stays flat
    /// whatever the export's size.
    pub count_only: bool,
}

/// A desired identity kept for apply.
#[derive(Debug, Clone)]
pub struct DesiredIdentity {
    /// The record.
    pub identity: Identity,
    /// Its source name.
    pub source: String,
    /// Its field projection.
    pub fields: BTreeMap<String, Value>,
    /// Digest of `fields`.
    pub digest: String,
}

/// Desired records of the keys a plan acts on, with their password hashes: what apply
/// needs and the plan file must not hold.
#[derive(Debug, Default)]
pub struct DesiredSet {
    /// By external_id.
    pub identities: HashMap<String, DesiredIdentity>,
    /// Clients and service accounts by kind and key.
    pub clients: HashMap<(ObjectKind, String), DesiredClient>,
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A source file could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Records failed validation and `on_invalid = "fail"`.
    #[error("{} invalid record(s); nothing was planned:\n{}{}", total, errors.join("\n"), more(*total, errors.len()))]
    InvalidRecords {
        /// The first messages.
        errors: Vec<String>,
        /// How many in all.
        total: u64,
    },
    /// More deletes than `max_deletes` allows.
    #[error("the plan would delete {deletes} identities, more than policy.max_deletes = {max}")]
    TooManyDeletes {
        /// Planned deletes.
        deletes: u64,
        /// The limit.
        max: u64,
    },
    /// A file could not be fingerprinted.
    #[error("cannot read `{path}`")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn more(total: u64, shown: usize) -> String {
    if total > shown as u64 {
        format!("\n… and {} more", total - shown as u64)
    } else {
        String::new()
    }
}

/// How many invalid-record messages an error lists before counting the rest.
const MAX_LISTED_ERRORS: usize = 50;

/// Where a record was first seen, for duplicate reports.
struct Seen {
    location: String,
}

/// Computes a plan for `manifest` against `live`. Also returns the desired records the
/// plan's creates and updates need.
pub fn build(
    manifest: &Manifest,
    live: &LiveState,
    options: BuildOptions,
) -> Result<(Plan, DesiredSet), PlanError> {
    let mut summary = Summary::default();
    let mut changes = Vec::new();
    let mut desired_set = DesiredSet::default();
    let mut skipped = Vec::new();
    let mut invalid: Vec<SkippedRecord> = Vec::new();
    let mut passwords = Vec::new();
    let mut warnings = Vec::new();
    let mut seen_ids: HashMap<String, Seen> = HashMap::new();
    let mut seen_emails: HashMap<String, String> = HashMap::new();

    if let (Some(org), None, false) = (
        &manifest.target.organization,
        &live.organization,
        options.destroy,
    ) {
        changes.push(Change {
            kind: ObjectKind::Organization,
            action: Action::Create,
            key: org.clone(),
            source: None,
            live_id: None,
            etag: None,
            desired_digest: None,
            fields: vec![diff::FieldChange {
                path: "name".into(),
                before: None,
                after: Some(Value::String(org.clone())),
                sensitive: false,
            }],
        });
    }

    let mut source_digests = Vec::new();
    for source in &manifest.users {
        let mut files = vec![file_digest(manifest, &source.path)?];
        if let Some(p) = &source.passwords {
            files.push(file_digest(manifest, p)?);
        }
        source_digests.push(SourceDigest {
            name: source.name.clone(),
            provider: source.provider.as_str().to_string(),
            files,
        });
        let mut report = PasswordReport {
            source: source.name.clone(),
            ..Default::default()
        };
        let stats = sources::read_user_source(source, &mut |item| match item {
            UserItem::Identity(identity, location) => {
                let key = identity.external_id.to_string();
                if let Some(first) = seen_ids.get(&key) {
                    invalid.push(SkippedRecord {
                        source: source.name.clone(),
                        location: location.to_string(),
                        external_id: Some(key.clone()),
                        reason: format!(
                            "duplicate external_id, first declared at {}",
                            first.location
                        ),
                    });
                    return;
                }
                if let Some(email) = &identity.email {
                    let folded = email.to_lowercase();
                    if let Some(other) = seen_emails.get(&folded) {
                        invalid.push(SkippedRecord {
                            source: source.name.clone(),
                            location: location.to_string(),
                            external_id: Some(key.clone()),
                            reason: format!("email `{email}` is also the email of `{other}`"),
                        });
                        return;
                    }
                    seen_emails.insert(folded, key.clone());
                }
                seen_ids.insert(
                    key.clone(),
                    Seen {
                        location: location.to_string(),
                    },
                );
                count_password(&mut report, &identity);
                if options.destroy {
                    return;
                }
                let fields = diff::desired_fields(&identity, &source.name);
                let live_identity = live.identities.get(&key);
                let d =
                    diff::diff_identity(&fields, live_identity, &manifest.policy.ignore_changes);
                let action = match d.action {
                    IdentityAction::NoOp => {
                        summary.no_op += 1;
                        return;
                    }
                    IdentityAction::Unowned => {
                        warnings.push(format!(
                            "identity `{key}` exists in the tenant but was not created by avnology-migrate; it is left untouched"
                        ));
                        return;
                    }
                    IdentityAction::Create => Action::Create,
                    IdentityAction::Update => Action::Update,
                    IdentityAction::Deactivate => Action::Deactivate,
                    IdentityAction::Reactivate => Action::Reactivate,
                };
                if options.count_only {
                    match action {
                        Action::Create => summary.create += 1,
                        Action::Update => summary.update += 1,
                        Action::Deactivate => summary.deactivate += 1,
                        Action::Reactivate => summary.reactivate += 1,
                        Action::Delete => summary.delete += 1,
                    }
                    return;
                }
                let digest = diff::desired_digest(&fields);
                changes.push(Change {
                    kind: ObjectKind::Identity,
                    action,
                    key: key.clone(),
                    source: Some(source.name.clone()),
                    live_id: live_identity.map(|l| l.id.clone()),
                    etag: live_identity.map(|l| l.etag.clone()),
                    desired_digest: Some(digest.clone()),
                    fields: d.changes,
                });
                if !options.keep_desired {
                    return;
                }
                desired_set.identities.insert(
                    key,
                    DesiredIdentity {
                        identity: *identity,
                        source: source.name.clone(),
                        fields,
                        digest,
                    },
                );
            }
            UserItem::Skipped(s) => skipped.push(SkippedRecord {
                source: source.name.clone(),
                location: s.location.to_string(),
                external_id: s.external_id,
                reason: s.reason.describe().to_string(),
            }),
            UserItem::Warning(w) => warnings.push(format!("source `{}`: {w}", source.name)),
            UserItem::Invalid(e) => invalid.push(SkippedRecord {
                source: source.name.clone(),
                location: e.location.to_string(),
                external_id: e.external_id.clone(),
                reason: e.message.clone(),
            }),
        })?;
        summary.source_records += stats.records;
        if stats.passwords_unmatched > 0 {
            warnings.push(format!(
                "source `{}`: {} password hash row(s) matched no user in the export",
                source.name, stats.passwords_unmatched
            ));
        }
        if source.firebase_hash.is_some() && report.firebase_scrypt > 0 {
            warnings.push(format!(
                "source `{}`: the Firebase hash parameters ([users.firebase_hash]) cannot be checked against the hashes before users log in; wrong parameters make all {} imported passwords fail — check a few with `avnology-migrate verify --logins FILE` after apply",
                source.name, report.firebase_scrypt
            ));
        }
        passwords.push(report);
    }

    let digest = |p: &std::path::Path| file_digest(manifest, p);
    let client_plan = plan_clients(
        manifest,
        &live.oauth_clients,
        &live.service_accounts,
        options.destroy,
        &digest,
    )?;
    skipped.extend(client_plan.skipped);
    invalid.extend(client_plan.invalid);
    warnings.extend(client_plan.warnings);
    source_digests.extend(client_plan.sources);
    summary.no_op += client_plan.no_op;
    summary.clients.no_op = client_plan.no_op;
    summary.clients.records = client_plan.records;
    desired_set.clients = client_plan.desired;
    // Apply order: the organization, OAuth clients, identities, then service accounts
    // (whose documented create call needs an existing owner identity), then deletes.
    let at = usize::from(
        changes
            .first()
            .is_some_and(|c| c.kind == ObjectKind::Organization),
    );
    changes.splice(at..at, client_plan.clients);
    changes.extend(client_plan.service_accounts);

    if !invalid.is_empty() && manifest.policy.on_invalid == OnInvalid::Fail {
        let total = invalid.len() as u64;
        let errors = invalid
            .iter()
            .take(MAX_LISTED_ERRORS)
            .map(describe_invalid)
            .collect();
        return Err(PlanError::InvalidRecords { errors, total });
    }

    // Deletes: owned identities no source declares (prune), or every owned one (destroy).
    let mut deletes: Vec<&wire::Identity> = live
        .identities
        .values()
        .filter(|l| diff::is_owned(l))
        .filter(|l| {
            options.destroy
                || (manifest.policy.prune
                    && !seen_ids.contains_key(l.external_id.as_deref().unwrap_or_default()))
        })
        .collect();
    deletes.sort_by(|a, b| a.external_id.cmp(&b.external_id));
    let total_deletes = (deletes.len() + client_plan.deletes.len()) as u64;
    if !options.destroy && total_deletes > manifest.policy.max_deletes {
        return Err(PlanError::TooManyDeletes {
            deletes: total_deletes,
            max: manifest.policy.max_deletes,
        });
    }
    for l in deletes {
        let source = l
            .admin_metadata
            .get(diff::OWNER_KEY)
            .and_then(|m| m.get("source"))
            .and_then(Value::as_str)
            .map(str::to_string);
        changes.push(Change {
            kind: ObjectKind::Identity,
            action: Action::Delete,
            key: l.external_id.clone().unwrap_or_default(),
            source,
            live_id: Some(l.id.clone()),
            etag: Some(l.etag.clone()),
            desired_digest: None,
            fields: Vec::new(),
        });
    }
    changes.extend(client_plan.deletes);
    summary.unowned = live.without_external_id
        + live
            .identities
            .values()
            .filter(|l| !diff::is_owned(l))
            .count() as u64
        + unowned(&live.oauth_clients, &live.service_accounts);

    for c in changes
        .iter()
        .filter(|c| matches!(c.kind, ObjectKind::OAuthClient | ObjectKind::ServiceAccount))
    {
        match c.action {
            Action::Create => summary.clients.create += 1,
            Action::Delete => summary.clients.delete += 1,
            _ => summary.clients.update += 1,
        }
    }
    for c in changes
        .iter()
        .filter(|c| c.kind != ObjectKind::Organization)
    {
        match c.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Deactivate => summary.deactivate += 1,
            Action::Reactivate => summary.reactivate += 1,
            Action::Delete => summary.delete += 1,
        }
    }
    summary.skipped = skipped.len() as u64;
    summary.invalid = invalid.len() as u64;

    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        plan_id: String::new(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        destroy: options.destroy,
        target: PlanTarget {
            url: match &manifest.target.url {
                TargetUrl::Sandbox { dir } => format!("sandbox:{}", display_rel(manifest, dir)),
                TargetUrl::Remote(u) => u.clone(),
            },
            organization: manifest.target.organization.clone(),
        },
        manifest: FileDigest {
            path: manifest.path.display().to_string(),
            sha256: manifest.sha256.clone(),
        },
        sources: source_digests,
        changes,
        skipped,
        invalid,
        passwords,
        warnings,
        summary,
    };
    plan.seal();
    Ok((plan, desired_set))
}

/// Re-reads the sources and keeps the desired records of `keys`: what `apply plan.json`
/// needs (including password hashes, which the plan file does not hold).
pub fn collect_desired(
    manifest: &Manifest,
    keys: &HashSet<String>,
) -> Result<DesiredSet, PlanError> {
    let mut set = DesiredSet::default();
    for source in &manifest.users {
        sources::read_user_source(source, &mut |item| {
            if let UserItem::Identity(identity, _) = item {
                let key = identity.external_id.to_string();
                if keys.contains(&key) && !set.identities.contains_key(&key) {
                    let fields = diff::desired_fields(&identity, &source.name);
                    let digest = diff::desired_digest(&fields);
                    set.identities.insert(
                        key,
                        DesiredIdentity {
                            identity: *identity,
                            source: source.name.clone(),
                            fields,
                            digest,
                        },
                    );
                }
            }
        })?;
    }
    let no_clients = HashMap::new();
    let no_accounts = HashMap::new();
    let digest = |p: &std::path::Path| file_digest(manifest, p);
    set.clients = plan_clients(manifest, &no_clients, &no_accounts, false, &digest)?.desired;
    Ok(set)
}

fn describe_invalid(r: &SkippedRecord) -> String {
    match &r.external_id {
        Some(id) => format!("  {}, external_id `{id}`: {}", r.location, r.reason),
        None => format!("  {}: {}", r.location, r.reason),
    }
}

fn count_password(report: &mut PasswordReport, identity: &Identity) {
    match &identity.password {
        Some(PasswordHash::Bcrypt(_)) => report.bcrypt += 1,
        Some(PasswordHash::FirebaseScrypt { .. }) => report.firebase_scrypt += 1,
        None if identity.password_unsupported.is_some() => {
            report.reset_unsupported += 1;
            if report.unsupported_users.len() < super::MAX_LISTED_RESETS {
                report.unsupported_users.push(format!(
                    "{} ({})",
                    identity.external_id,
                    identity.password_unsupported.as_deref().unwrap_or_default()
                ));
            }
        }
        None if identity.linked_providers.is_empty() => report.reset_no_hash += 1,
        None => report.passwordless += 1,
    }
    if identity.mfa_enrolled {
        report.mfa_not_carried += 1;
    }
}

fn display_rel(manifest: &Manifest, path: &std::path::Path) -> String {
    path.strip_prefix(&manifest.dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn file_digest(manifest: &Manifest, path: &std::path::Path) -> Result<FileDigest, PlanError> {
    let sha256 = super::file::sha256_path(path).map_err(|source| PlanError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(FileDigest {
        path: display_rel(manifest, path),
        sha256,
    })
}
