//! Computing a plan as a stream: every source record is compared with the live index as it
//! arrives and each change is written to the plan file as it is found. Memory holds the
//! compact live index, the duplicate checks (two fixed-size hashes per record), counts and
//! the bounded review sample; never the change list or the records themselves.
//!
//! Changes are written in apply order: the organization, OAuth clients, identities (in
//! source order, which is what lets `apply` read the plan and the sources together in one
//! pass), service accounts, then deletes.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use super::clients::{ClientPlan, DesiredClient, LiveClients, plan_clients, unowned};
use super::file::{PlanFileError, PlanWriter, WrittenPlan};
use super::live_index::{LiveIdentities, owner_source};
use super::ownership::{Owner, Ownership};
use super::selection::Selection;
use super::{
    Action, Change, Conflict, FORMAT_VERSION, FileDigest, GroupCount, LISTED_PER_GROUP,
    MAX_LISTED_RECORDS, ObjectKind, PasswordReport, Plan, PlanFooter, PlanHeader, PlanTarget,
    SkippedRecord, SourceDigest, SourceTally, Summary,
};
use crate::diff::{self, IdentityAction};
use crate::manifest::{AdoptPolicy, Manifest, OnInvalid, TargetUrl, UserSource};
use crate::model::{ExternalId, Identity, PasswordHash};
use crate::render::escape::terminal;
use crate::sources::{self, Location, SourceError, UserItem};
use crate::wire;

/// What the tenant holds, read before planning.
#[derive(Debug, Default)]
pub struct LiveState {
    /// The target organization, if it exists.
    pub organization: Option<wire::Organization>,
    /// Live identities in the organization, indexed by external_id.
    pub identities: LiveIdentities,
    /// Live OAuth clients in the organization, by external_id.
    pub oauth_clients: HashMap<ExternalId, wire::OAuthClient>,
    /// Live service accounts in the organization, by external_id.
    pub service_accounts: HashMap<ExternalId, wire::ServiceAccount>,
    /// Live OAuth clients without an external_id (never this tool's; their names can
    /// conflict with a declared client's).
    pub unkeyed_oauth_clients: Vec<wire::OAuthClient>,
    /// Live service accounts without an external_id.
    pub unkeyed_service_accounts: Vec<wire::ServiceAccount>,
}

/// Options for [`build`].
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Plan the removal of everything this manifest owns.
    pub destroy: bool,
    /// Count changes without writing a plan file (`validate`).
    pub count_only: bool,
    /// Where the plan file is written before it is persisted (the folder of `--out`); the
    /// system's temporary folder when `None`.
    pub dir: Option<PathBuf>,
    /// Counts source records as they are read, for progress.
    pub records_read: Option<Arc<AtomicU64>>,
    /// Overrides `[policy] max_deletes` (`--max-deletes`).
    pub max_deletes: Option<u64>,
    /// Report invalid records in the footer instead of failing when `on_invalid = "fail"`
    /// (`validate --format json`, which lists them all as data).
    pub keep_invalid: bool,
    /// `--only`: plan just these objects; a partial plan deletes nothing.
    pub only: Option<Selection>,
}

/// A desired identity, as apply sends it.
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

/// The desired identity for a source record.
pub fn desired_identity(identity: Identity, source: &str) -> DesiredIdentity {
    let fields = diff::desired_fields(&identity, source);
    let digest = diff::desired_digest(&fields);
    DesiredIdentity {
        identity,
        source: source.to_string(),
        fields,
        digest,
    }
}

/// Desired clients and service accounts, with their secrets' inputs: what apply needs and
/// the plan file must not hold. (Desired identities are streamed, never collected.)
#[derive(Debug, Default)]
pub struct DesiredSet {
    /// Clients and service accounts by kind and key.
    pub clients: HashMap<(ObjectKind, ExternalId), DesiredClient>,
}

/// A computed plan: what people review, and the sealed plan file unless counting only.
#[derive(Debug)]
pub struct BuiltPlan {
    /// Header, footer and sample.
    pub plan: Plan,
    /// The plan file (temporary until persisted).
    pub file: Option<WrittenPlan>,
    /// The desired clients, for `validate`'s per-source counts.
    pub clients: DesiredSet,
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
    #[error(
        "the plan would delete {deletes} objects, more than max_deletes = {max} allows (raise [policy] max_deletes, or pass --max-deletes {deletes} after reviewing it)"
    )]
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
    /// The plan file could not be written.
    #[error(transparent)]
    PlanFile(#[from] PlanFileError),
    /// A source file is not the one the manifest pins.
    #[error(
        "`{path}` (source `{source_name}`) has SHA-256 {actual}, but {manifest} pins {pinned}; nothing was read. If this export is the one to migrate, check it and run `avnology-migrate pin -m {manifest}`"
    )]
    PinMismatch {
        /// The file.
        path: String,
        /// Its source.
        source_name: String,
        /// The manifest.
        manifest: String,
        /// The pinned digest.
        pinned: String,
        /// The file's digest.
        actual: String,
    },
    /// The live index's temporary file failed.
    #[error("cannot hold the live identities in a temporary file")]
    LiveIndex(#[source] std::io::Error),
    /// `--only` names what the manifest does not declare.
    #[error("--only names what the manifest does not declare; nothing was planned:\n{}", .0.join("\n"))]
    UnknownAddresses(Vec<String>),
    /// `--only` with `--destroy`.
    #[error("--only cannot be combined with --destroy: a partial plan never deletes")]
    PartialDestroy,
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

/// Where a record was first seen, kept in 12 bytes: a file number and the line and index
/// of the record.
#[derive(Debug, Clone, Copy)]
struct SeenAt {
    file: u32,
    line: u32,
    index: u32,
}

/// The first record of every external_id and every email, by two 64-bit hashes (a false
/// match among a billion records is less likely than a disk error), so duplicates are found
/// without holding the strings: about 60 bytes per record in all.
struct Seen {
    hashers: [std::hash::RandomState; 2],
    /// Hash of an external_id → its record in `records`.
    ids: HashMap<(u64, u64), u32>,
    /// Hash of a lowercased email → its record in `records`.
    emails: HashMap<(u64, u64), u32>,
    records: Vec<SeenAt>,
    files: Vec<PathBuf>,
    scratch: String,
}

impl Seen {
    fn new() -> Self {
        Self {
            hashers: [Default::default(), Default::default()],
            ids: HashMap::new(),
            emails: HashMap::new(),
            records: Vec::new(),
            files: Vec::new(),
            scratch: String::new(),
        }
    }

    fn hash(&self, s: &str) -> (u64, u64) {
        (self.hashers[0].hash_one(s), self.hashers[1].hash_one(s))
    }

    /// The hash of `s` lowercased (emails compare case-insensitively), through a buffer
    /// reused from record to record.
    fn hash_folded(&mut self, s: &str) -> (u64, u64) {
        let mut folded = std::mem::take(&mut self.scratch);
        folded.clear();
        folded.extend(s.chars().flat_map(char::to_lowercase));
        let hash = self.hash(&folded);
        self.scratch = folded;
        hash
    }

    /// Keeps where a record is; returns its number.
    fn at(&mut self, location: &Location) -> u32 {
        let file = if let Some(i) = self.files.iter().rposition(|f| *f == location.file) {
            i
        } else {
            self.files.push(location.file.clone());
            self.files.len() - 1
        };
        self.records.push(SeenAt {
            file: file as u32,
            line: location
                .line
                .and_then(|l| u32::try_from(l).ok())
                .unwrap_or(0),
            index: u32::try_from(location.index).unwrap_or(u32::MAX),
        });
        (self.records.len() - 1) as u32
    }

    fn describe(&self, record: u32) -> String {
        let at = self.records[record as usize];
        Location {
            file: self.files[at.file as usize].clone(),
            line: (at.line > 0).then_some(u64::from(at.line)),
            index: u64::from(at.index),
        }
        .to_string()
    }
}

/// The state of one plan being built.
struct Builder<'a> {
    manifest: &'a Manifest,
    options: &'a BuildOptions,
    writer: Option<PlanWriter>,
    summary: Summary,
    groups: Vec<GroupCount>,
    sample: Vec<Change>,
    skipped: Vec<SkippedRecord>,
    invalid: Vec<SkippedRecord>,
    warnings: Vec<String>,
    warnings_dropped: u64,
    tallies: Vec<SourceTally>,
    seen: Seen,
    ownership: Ownership,
    /// Declared records whose live identity belongs to a source this manifest does not
    /// name, per that source: left untouched, reported once per source.
    foreign: BTreeMap<String, u64>,
    /// Identities of this manifest scheduled for deletion that the plan restores.
    restores: u64,
    /// Live identities per owned source once the plan is applied.
    owned_after: BTreeMap<String, u64>,
    /// The first conflicts, with both sides.
    conflicts: Vec<Conflict>,
    /// The first failure inside a source callback, which cannot return one.
    error: Option<PlanError>,
    /// With `--only`: the external ids of records the selection's identity addresses matched.
    matched: std::collections::HashSet<String>,
}

impl Builder<'_> {
    /// Counts a change of `kind` and `action`; returns whether it is among the first of its
    /// group, which the review sample lists.
    fn count(&mut self, kind: ObjectKind, action: Action) -> bool {
        let group = if let Some(g) = self
            .groups
            .iter_mut()
            .find(|g| g.kind == kind && g.action == action)
        {
            g
        } else {
            self.groups.push(GroupCount {
                kind,
                action,
                count: 0,
            });
            self.groups.last_mut().expect("just pushed")
        };
        group.count += 1;
        if kind != ObjectKind::Organization {
            match action {
                Action::Create => self.summary.create += 1,
                Action::Adopt => self.summary.adopt += 1,
                Action::Update => self.summary.update += 1,
                Action::Deactivate => self.summary.deactivate += 1,
                Action::Reactivate => self.summary.reactivate += 1,
                Action::Delete => self.summary.delete += 1,
            }
        }
        group.count <= LISTED_PER_GROUP as u64
    }

    /// Records one change: counted, sampled, and written to the plan file (an identity
    /// create without its fields: those stay in the sources and the sample).
    fn emit(&mut self, mut change: Change) -> Result<(), PlanError> {
        let listed = self.count(change.kind, change.action);
        if matches!(
            change.kind,
            ObjectKind::OAuthClient | ObjectKind::ServiceAccount
        ) {
            match change.action {
                Action::Create => {
                    self.summary.clients.create += 1;
                    if mints_secret(&change) {
                        self.summary.clients.mint_secrets += 1;
                    }
                }
                Action::Delete => self.summary.clients.delete += 1,
                _ => self.summary.clients.update += 1,
            }
        }
        if let Some(writer) = &mut self.writer {
            if change.kind == ObjectKind::Identity && change.action == Action::Create {
                // Written without its fields; the sample keeps them for the first few.
                let fields = std::mem::take(&mut change.fields);
                writer.change(&change)?;
                change.fields = fields;
            } else {
                writer.change(&change)?;
            }
        }
        if listed {
            self.sample.push(change);
        }
        Ok(())
    }

    fn warn(&mut self, warning: String) {
        if self.warnings.len() < MAX_LISTED_RECORDS {
            self.warnings.push(warning);
        } else {
            self.warnings_dropped += 1;
        }
    }

    fn tally(&mut self, source: &str) -> &mut SourceTally {
        if let Some(i) = self.tallies.iter().position(|t| t.source == source) {
            &mut self.tallies[i]
        } else {
            self.tallies.push(SourceTally {
                source: source.to_string(),
                ..Default::default()
            });
            self.tallies.last_mut().expect("just pushed")
        }
    }

    /// Whether a skipped or invalid record is in the `--only` selection (always, for a full
    /// plan); notes an identity address it matches.
    fn in_selection(&mut self, record: &SkippedRecord) -> bool {
        let Some(only) = &self.options.only else {
            return true;
        };
        if let Some(id) = &record.external_id
            && only.names(ObjectKind::Identity, id)
        {
            self.matched.insert(id.clone());
        }
        only.covers_record(&record.source, record.external_id.as_deref())
    }

    fn skip(&mut self, record: SkippedRecord) {
        if !self.in_selection(&record) {
            return;
        }
        self.summary.skipped += 1;
        self.tally(&record.source).skipped += 1;
        if self.skipped.len() < MAX_LISTED_RECORDS {
            self.skipped.push(record);
        }
    }

    fn reject(&mut self, record: SkippedRecord) {
        if !self.in_selection(&record) {
            return;
        }
        self.summary.invalid += 1;
        self.tally(&record.source).invalid += 1;
        if self.invalid.len() < MAX_LISTED_RECORDS {
            self.invalid.push(record);
        }
    }

    /// One identity record of `source`, the `record`-th of that source.
    fn identity(
        &mut self,
        source: &UserSource,
        live: &mut LiveIdentities,
        report: &mut PasswordReport,
        identity: Identity,
        location: &Location,
        record: u64,
    ) -> Result<(), PlanError> {
        let key = identity.external_id.to_string();
        let id_hash = self.seen.hash(&key);
        if let Some(first) = self.seen.ids.get(&id_hash).copied() {
            self.reject(SkippedRecord {
                source: source.name.clone(),
                location: location.to_string(),
                external_id: Some(key),
                reason: format!(
                    "duplicate external_id, first declared at {}",
                    self.seen.describe(first)
                ),
            });
            return Ok(());
        }
        if let Some(email) = &identity.email {
            let email_hash = self.seen.hash_folded(email);
            if let Some(first) = self.seen.emails.get(&email_hash).copied() {
                self.reject(SkippedRecord {
                    source: source.name.clone(),
                    location: location.to_string(),
                    external_id: Some(key),
                    reason: format!(
                        "email `{email}` is also the email of the record at {}",
                        self.seen.describe(first)
                    ),
                });
                return Ok(());
            }
            let at = self.seen.at(location);
            self.seen.emails.insert(email_hash, at);
            self.seen.ids.insert(id_hash, at);
        } else {
            let at = self.seen.at(location);
            self.seen.ids.insert(id_hash, at);
        }
        if let Some(only) = &self.options.only {
            if only.names(ObjectKind::Identity, &key) {
                self.matched.insert(key.clone());
            }
            if !only.selects(ObjectKind::Identity, &key, Some(&source.name)) {
                // Outside the selection: not planned, and its live identity (if any) is
                // neither read nor touched.
                return Ok(());
            }
        }
        self.tally(&source.name).accepted += 1;
        count_password(report, &identity);
        if self.options.destroy {
            return Ok(());
        }
        if self.options.count_only && live.is_empty() {
            // Against an empty tenant (`validate`) every record is a create: count it
            // without projecting and hashing a record nobody will see.
            if !self.count(ObjectKind::Identity, Action::Create) {
                return Ok(());
            }
            self.sample.push(Change {
                kind: ObjectKind::Identity,
                action: Action::Create,
                key: ExternalId::from(key),
                source: Some(source.name.clone()),
                live_id: None,
                etag: None,
                desired_digest: None,
                fields: Vec::new(),
                record: Some(record),
            });
            return Ok(());
        }
        let fields = diff::desired_fields(&identity, &source.name);
        let live_identity = live.claim(&key).map_err(PlanError::LiveIndex)?;
        if let Some(l) = &live_identity {
            match self.ownership.owner(&l.admin_metadata) {
                Owner::Foreign(other) => {
                    *self.foreign.entry(other.to_string()).or_default() += 1;
                    return Ok(());
                }
                // Someone else's soft-deleted identity: not ours to restore or to duplicate.
                Owner::Unmarked if l.state == wire::IdentityState::ScheduledDeletion => {
                    self.warn(format!(
                        "identity `{key}` is scheduled for deletion in the tenant and was not created by avnology-migrate; it is left untouched"
                    ));
                    return Ok(());
                }
                _ => {}
            }
        }
        // Another live identity holding this record's email: a dual-write sign-up, another
        // source's identity, or one this manifest keys differently. Found here, not by a 409
        // in the middle of apply.
        // When the record's own live identity already holds the email (the common case at
        // a re-plan), it is the email's only holder: no second read of the index.
        let holds_own_email = live_identity.as_ref().is_some_and(|l| {
            l.state != wire::IdentityState::ScheduledDeletion
                && identity
                    .email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(&l.email))
        });
        let email_holder = match &identity.email {
            Some(_) if holds_own_email => None,
            Some(email) => live
                .find_by_email(email)
                .map_err(PlanError::LiveIndex)?
                .filter(|(_, other)| other.external_id.as_deref() != Some(key.as_str())),
            None => None,
        };
        let unmarked_same_key = live_identity.as_ref().filter(|l| {
            l.state != wire::IdentityState::ScheduledDeletion
                && self.ownership.owner(&l.admin_metadata) == Owner::Unmarked
        });
        if let Some(l) = unmarked_same_key {
            let same_email = identity
                .email
                .as_deref()
                .is_some_and(|e| e.to_lowercase() == l.email.to_lowercase());
            let verdict = if same_email {
                self.adoptable(&identity, l)
            } else {
                Err("an identity with this external_id exists in the tenant with another email and was not created by avnology-migrate; it is left untouched".to_string())
            };
            let l = l.clone();
            return match verdict {
                Ok(()) => self.adopt(source, &identity, &fields, l, record),
                Err(reason) => {
                    self.conflict(source, &identity, location, &l, reason);
                    Ok(())
                }
            };
        }
        if let Some((slot, other)) = email_holder {
            let adoptable = live_identity.is_none()
                && other.external_id.as_deref().is_none_or(str::is_empty)
                && self.ownership.owner(&other.admin_metadata) == Owner::Unmarked;
            let verdict = if adoptable {
                self.adoptable(&identity, &other)
            } else {
                Err(match self.ownership.owner(&other.admin_metadata) {
                    Owner::Foreign(s) => format!("the email is used by an identity of source `{s}`, which this manifest does not name; never adopted"),
                    Owner::Ours(_) | Owner::Adopted(_) => format!(
                        "the email is used by this manifest's identity `{}`; an email belongs to one record",
                        other.external_id.as_deref().unwrap_or_default()
                    ),
                    Owner::Unmarked => match other.external_id.as_deref() {
                        Some(k) if !k.is_empty() => format!("the email is used by an identity with another external_id (`{k}`) not created by avnology-migrate; never adopted"),
                        _ => "this record's identity exists under its external_id; the email is used by another identity".to_string(),
                    },
                })
            };
            return match verdict {
                Ok(()) => {
                    live.claim_slot(slot);
                    self.adopt(source, &identity, &fields, other, record)
                }
                Err(reason) => {
                    self.conflict(source, &identity, location, &other, reason);
                    Ok(())
                }
            };
        }
        let d = diff::diff_identity(
            &fields,
            live_identity.as_ref(),
            &self.manifest.policy.ignore_changes,
        );
        if d.action != IdentityAction::Unowned {
            *self.owned_after.entry(source.name.clone()).or_default() += 1;
        }
        if live_identity
            .as_ref()
            .is_some_and(|l| l.state == wire::IdentityState::ScheduledDeletion)
        {
            self.restores += 1;
        }
        let action = match d.action {
            IdentityAction::NoOp => {
                self.summary.no_op += 1;
                return Ok(());
            }
            IdentityAction::Unowned => {
                self.warn(format!(
                    "identity `{key}` exists in the tenant but was not created by avnology-migrate; it is left untouched"
                ));
                return Ok(());
            }
            IdentityAction::Create => Action::Create,
            IdentityAction::Update => Action::Update,
            IdentityAction::Deactivate => Action::Deactivate,
            IdentityAction::Reactivate => Action::Reactivate,
        };
        let digest = diff::desired_digest(&fields);
        self.emit(Change {
            kind: ObjectKind::Identity,
            action,
            key: ExternalId::from(key),
            source: Some(source.name.clone()),
            live_id: live_identity.as_ref().map(|l| l.id.clone()),
            etag: live_identity.map(|l| l.etag),
            desired_digest: Some(digest),
            fields: d.changes,
            record: Some(record),
        })
    }
}

impl Builder<'_> {
    /// Whether `[policy] adopt` lets the plan take over `live`, an identity without an owner
    /// marker that holds `identity`'s email; the reason it may not otherwise.
    fn adoptable(&self, identity: &Identity, live: &wire::Identity) -> Result<(), String> {
        if self.manifest.policy.adopt == AdoptPolicy::Never {
            return Err("a live identity not created by avnology-migrate uses this email (a sign-up made in Avnology?); set [policy] adopt = \"verified_email\" to adopt it".into());
        }
        if identity.email_verified != Some(true) {
            return Err("not adopted: the email is not verified in the source".into());
        }
        if !live.email_verified {
            return Err("not adopted: the email is not verified in the tenant".into());
        }
        Ok(())
    }

    /// Plans the adoption of `live` as the record `identity`.
    fn adopt(
        &mut self,
        source: &UserSource,
        identity: &Identity,
        fields: &BTreeMap<String, Value>,
        live: wire::Identity,
        record: u64,
    ) -> Result<(), PlanError> {
        *self.owned_after.entry(source.name.clone()).or_default() += 1;
        let key = identity.external_id.to_string();
        let changes =
            diff::adopt_identity(fields, &live, &key, &self.manifest.policy.ignore_changes);
        self.emit(Change {
            kind: ObjectKind::Identity,
            action: Action::Adopt,
            key: ExternalId::from(key),
            source: Some(source.name.clone()),
            live_id: Some(live.id),
            etag: Some(live.etag),
            desired_digest: Some(diff::desired_digest(fields)),
            fields: changes,
            record: Some(record),
        })
    }

    /// Records a conflict between `identity` and `live`: listed with both sides, left out.
    fn conflict(
        &mut self,
        source: &UserSource,
        identity: &Identity,
        location: &Location,
        live: &wire::Identity,
        reason: String,
    ) {
        self.summary.conflicts += 1;
        if self.conflicts.len() < MAX_LISTED_RECORDS {
            self.conflicts.push(Conflict {
                kind: ObjectKind::Identity,
                key: identity.external_id.clone(),
                source: source.name.clone(),
                location: location.to_string(),
                desired: identity.email.clone(),
                live_id: live.id.clone(),
                live_external_id: live.external_id.clone().filter(|k| !k.is_empty()),
                live: Some(live.email.clone()),
                live_owner: owner_source(live).map(str::to_string),
                reason,
            });
        }
    }
}

/// The plan kind of a client declaration.
fn client_kind(decl: &crate::model::ClientDecl) -> ObjectKind {
    match decl {
        crate::model::ClientDecl::OAuth(_) => ObjectKind::OAuthClient,
        crate::model::ClientDecl::ServiceAccount(_) => ObjectKind::ServiceAccount,
    }
}

/// Whether creating `change` mints a secret Avnology shows only once.
fn mints_secret(change: &Change) -> bool {
    change.action == Action::Create
        && (change.kind == ObjectKind::ServiceAccount
            || (change.kind == ObjectKind::OAuthClient
                && change.fields.iter().any(|f| {
                    f.path == "client_type"
                        && f.after.as_ref().and_then(Value::as_str) == Some("confidential")
                })))
}

/// Refuses, before anything is read, a `--only` selection combined with `--destroy` or naming
/// a source the manifest does not have (addresses of objects are checked against the records
/// once the sources have been read).
pub fn check_selection(manifest: &Manifest, options: &BuildOptions) -> Result<(), PlanError> {
    if let Some(only) = &options.only {
        if options.destroy {
            return Err(PlanError::PartialDestroy);
        }
        let mut names: Vec<&str> = manifest.users.iter().map(|s| s.name.as_str()).collect();
        names.extend(manifest.client_sources.iter().map(|s| s.name.as_str()));
        if !manifest.clients.is_empty() {
            names.push(crate::manifest::MANIFEST_CLIENTS);
        }
        let mut unknown: Vec<String> = only
            .sources()
            .filter(|s| !names.contains(s))
            .map(|s| {
                format!(
                    "  source:{}: no such source (the manifest's sources: {})",
                    terminal(s),
                    names
                        .iter()
                        .map(|n| terminal(n).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
            .collect();
        if !unknown.is_empty() {
            unknown.sort();
            return Err(PlanError::UnknownAddresses(unknown));
        }
    }
    Ok(())
}

/// Computes a plan for `manifest` against `live`, writing the plan file as it goes (unless
/// `count_only`).
pub fn build(
    manifest: &Manifest,
    live: &mut LiveState,
    options: &BuildOptions,
) -> Result<BuiltPlan, PlanError> {
    check_selection(manifest, options)?;
    let digest = |p: &Path| file_digest(manifest, p);
    let client_plan = plan_clients(
        manifest,
        &LiveClients {
            clients: &live.oauth_clients,
            accounts: &live.service_accounts,
            unkeyed_clients: &live.unkeyed_oauth_clients,
            unkeyed_accounts: &live.unkeyed_service_accounts,
        },
        options.destroy,
        &digest,
    )?;
    let mut source_digests = Vec::new();
    for source in &manifest.users {
        let mut files = vec![pinned_digest(
            manifest,
            &source.name,
            &source.path,
            source.sha256.as_deref(),
        )?];
        if let Some(p) = &source.passwords {
            files.push(pinned_digest(
                manifest,
                &source.name,
                p,
                source.passwords_sha256.as_deref(),
            )?);
        }
        source_digests.push(SourceDigest {
            name: source.name.clone(),
            provider: source.provider.as_str().to_string(),
            files,
        });
    }
    source_digests.extend(client_plan.sources.iter().cloned());
    let header = PlanHeader {
        format_version: FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        destroy: options.destroy,
        target: PlanTarget {
            url: target_url(manifest),
            organization: manifest.target.organization.clone(),
            organization_id: live.organization.as_ref().map(|o| o.id.clone()),
        },
        manifest: FileDigest {
            path: manifest_path_for(&manifest.path, options.dir.as_deref()),
            sha256: manifest.sha256.clone(),
        },
        sources: source_digests,
        only: options
            .only
            .as_ref()
            .map(Selection::to_strings)
            .unwrap_or_default(),
    };
    let writer = if options.count_only {
        None
    } else {
        Some(PlanWriter::create(options.dir.as_deref(), &header)?)
    };
    let mut b = Builder {
        manifest,
        options,
        writer,
        summary: Summary::default(),
        groups: Vec::new(),
        sample: Vec::new(),
        skipped: Vec::new(),
        invalid: Vec::new(),
        warnings: Vec::new(),
        warnings_dropped: 0,
        tallies: Vec::new(),
        seen: Seen::new(),
        ownership: Ownership::of(manifest),
        foreign: BTreeMap::new(),
        restores: 0,
        owned_after: BTreeMap::new(),
        conflicts: Vec::new(),
        error: None,
        matched: std::collections::HashSet::new(),
    };

    if let (Some(org), None, false) = (
        &manifest.target.organization,
        &live.organization,
        options.destroy,
    ) {
        b.emit(Change {
            kind: ObjectKind::Organization,
            action: Action::Create,
            key: ExternalId::from(org.clone()),
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
            record: None,
        })?;
    }
    let ClientPlan {
        conflicts: client_conflicts,
        clients,
        service_accounts,
        deletes: client_deletes,
        desired: desired_clients,
        skipped: client_skipped,
        invalid: client_invalid,
        warnings: client_warnings,
        sources: _,
        no_op: client_no_op,
        records: client_records,
        declared: declared_clients,
    } = client_plan;
    // A partial plan keeps the selected clients' changes and conflicts and deletes nothing.
    let selected = |kind: ObjectKind, key: &str, source: Option<&str>| {
        options
            .only
            .as_ref()
            .is_none_or(|only| only.selects(kind, key, source))
    };
    let (clients, service_accounts, client_conflicts, client_deletes) = match &options.only {
        None => (clients, service_accounts, client_conflicts, client_deletes),
        Some(_) => (
            clients
                .into_iter()
                .filter(|c| selected(c.kind, &c.key, c.source.as_deref()))
                .collect(),
            service_accounts
                .into_iter()
                .filter(|c| selected(c.kind, &c.key, c.source.as_deref()))
                .collect(),
            client_conflicts
                .into_iter()
                .filter(|c| selected(c.kind, &c.key, Some(&c.source)))
                .collect(),
            Vec::new(),
        ),
    };
    for change in clients {
        b.emit(change)?;
    }

    let mut passwords = Vec::new();
    for source in &manifest.users {
        b.tally(&source.name);
        b.owned_after.entry(source.name.clone()).or_default();
        let mut report = PasswordReport {
            source: source.name.clone(),
            ..Default::default()
        };
        let mut record = 0u64;
        let stats = sources::read_user_source(source, &mut |item| {
            if let Some(counter) = &options.records_read {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            if b.error.is_some() {
                return;
            }
            match item {
                UserItem::Identity(identity, location) => {
                    let at = record;
                    record += 1;
                    if let Err(e) = b.identity(
                        source,
                        &mut live.identities,
                        &mut report,
                        *identity,
                        &location,
                        at,
                    ) {
                        b.error = Some(e);
                    }
                }
                UserItem::Skipped(s) => b.skip(SkippedRecord {
                    source: source.name.clone(),
                    location: s.location.to_string(),
                    external_id: s.external_id,
                    reason: s.reason.describe().to_string(),
                }),
                UserItem::Warning(w) => b.warn(format!("source `{}`: {w}", source.name)),
                UserItem::Invalid(e) => b.reject(SkippedRecord {
                    source: source.name.clone(),
                    location: e.location.to_string(),
                    external_id: e.external_id.clone(),
                    reason: e.message.clone(),
                }),
            }
        })?;
        if let Some(e) = b.error.take() {
            return Err(e);
        }
        b.summary.source_records += stats.records;
        if stats.passwords_unmatched > 0 {
            b.warn(format!(
                "source `{}`: {} password hash row(s) matched no user in the export",
                source.name, stats.passwords_unmatched
            ));
        }
        if source.firebase_hash.is_some() && report.firebase_scrypt > 0 {
            b.warn(format!(
                "source `{}`: the Firebase hash parameters ([users.firebase_hash]) cannot be checked against the hashes before users log in; wrong parameters make all {} imported passwords fail — check a few with `avnology-migrate verify --logins FILE` after apply",
                source.name, report.firebase_scrypt
            ));
        }
        passwords.push(report);
    }

    if let Some(only) = &options.only {
        let mut unknown = Vec::new();
        for a in only.addresses() {
            if let super::selection::Address::Object(kind, key) = a {
                let found = match kind {
                    ObjectKind::Identity => b.matched.contains(key),
                    _ => declared_clients.contains(&(*kind, ExternalId::from(key.clone()))),
                };
                if !found {
                    unknown.push(format!(
                        "  {}:{}: no record of any source has this {}",
                        kind.noun(),
                        terminal(key),
                        if *kind == ObjectKind::Identity {
                            "external_id"
                        } else {
                            "key"
                        }
                    ));
                }
            }
        }
        if !unknown.is_empty() {
            return Err(PlanError::UnknownAddresses(unknown));
        }
    }

    for r in client_skipped {
        b.skip(r);
    }
    for r in client_invalid {
        b.reject(r);
    }
    for w in client_warnings {
        b.warn(w);
    }
    b.summary.conflicts += client_conflicts.len() as u64;
    b.conflicts.extend(client_conflicts);
    for d in desired_clients.values() {
        if selected(
            client_kind(&d.decl),
            d.decl.external_id().as_str(),
            Some(&d.source),
        ) {
            b.tally(&d.source).accepted += 1;
        }
    }
    b.summary.no_op += client_no_op;
    b.summary.clients.no_op = client_no_op;
    b.summary.clients.records = client_records;

    if b.summary.invalid > 0
        && manifest.policy.on_invalid == OnInvalid::Fail
        && !options.keep_invalid
    {
        let errors = b
            .invalid
            .iter()
            .take(MAX_LISTED_ERRORS)
            .map(describe_invalid)
            .collect();
        return Err(PlanError::InvalidRecords {
            errors,
            total: b.summary.invalid,
        });
    }

    // Service accounts after identities: their documented create call needs an existing
    // owner identity, which this plan may create.
    for change in service_accounts {
        b.emit(change)?;
    }

    // Deletes: identities of this manifest's sources that no source declared (prune), or
    // every one of them (destroy); never another source's, never one already scheduled for
    // deletion. Counted first, so a plan over `max_deletes` is refused before any is written.
    let ownership = b.ownership.clone();
    // A partial plan never deletes.
    let deleting = (options.destroy || manifest.policy.prune) && options.only.is_none();
    let wanted = |l: &wire::Identity| {
        deleting
            && l.state != wire::IdentityState::ScheduledDeletion
            && ownership.owner(&l.admin_metadata).is_ours()
    };
    let mut identity_deletes = 0u64;
    let mut kept = 0u64;
    live.identities
        .for_each_undeclared(|l| {
            if wanted(&l) {
                identity_deletes += 1;
            } else if l.state != wire::IdentityState::ScheduledDeletion
                && let Owner::Ours(s) | Owner::Adopted(s) = ownership.owner(&l.admin_metadata)
            {
                *b.owned_after.entry(s.to_string()).or_default() += 1;
                kept += 1;
            }
        })
        .map_err(PlanError::LiveIndex)?;
    // At a final sync these are users deleted in the old provider: say so, once.
    if kept > 0 && !options.destroy && options.only.is_none() {
        b.warn(format!(
            "{kept} identit{} of this manifest's sources in the tenant {} no longer in any source; kept, since prune is off (`verify` names them; prune = true deletes them)",
            if kept == 1 { "y" } else { "ies" },
            if kept == 1 { "is" } else { "are" },
        ));
    }
    let total_deletes = identity_deletes + client_deletes.len() as u64;
    let max_deletes = options.max_deletes.unwrap_or(manifest.policy.max_deletes);
    if total_deletes > max_deletes {
        return Err(PlanError::TooManyDeletes {
            deletes: total_deletes,
            max: max_deletes,
        });
    }
    if identity_deletes > 0 {
        let mut result = Ok(());
        live.identities
            .for_each_undeclared(|l| {
                if result.is_err() || !wanted(&l) {
                    return;
                }
                result = b.emit(Change {
                    kind: ObjectKind::Identity,
                    action: Action::Delete,
                    key: ExternalId::from(l.external_id.clone().unwrap_or_default()),
                    source: owner_source(&l).map(str::to_string),
                    live_id: Some(l.id.clone()),
                    etag: Some(l.etag.clone()),
                    desired_digest: None,
                    fields: Vec::new(),
                    record: None,
                });
            })
            .map_err(PlanError::LiveIndex)?;
        result?;
    }
    for change in client_deletes {
        b.emit(change)?;
    }

    // Not owned by this manifest: no external_id, no marker, or another source's marker.
    let foreign_identities: u64 = live
        .identities
        .owned_by_source
        .iter()
        .filter(|(source, _)| !ownership.is_ours(source))
        .map(|(_, n)| n)
        .sum();
    b.summary.unowned = live.identities.without_external_id
        + live.identities.unowned
        + foreign_identities
        + unowned(&live.oauth_clients, &live.service_accounts, &ownership)
        + (live.unkeyed_oauth_clients.len() + live.unkeyed_service_accounts.len()) as u64;
    for (other, n) in std::mem::take(&mut b.foreign) {
        b.warn(format!(
            "{n} identit{} this manifest declares belong{} to source `{other}`, which it does not name; left untouched (if `{other}` was renamed, add adopt_sources = [\"{other}\"] to [policy] to take them over)",
            if n == 1 { "y" } else { "ies" },
            if n == 1 { "s" } else { "" },
        ));
    }
    if b.restores > 0 {
        let n = b.restores;
        b.warn(format!(
            "{n} identit{} of this manifest's sources {} scheduled for deletion in the tenant and will be restored",
            if n == 1 { "y" } else { "ies" },
            if n == 1 { "is" } else { "are" },
        ));
    }
    if b.warnings_dropped > 0 {
        let dropped = b.warnings_dropped;
        b.warnings
            .push(format!("… and {dropped} more warnings of the kinds above"));
    }
    let footer = PlanFooter {
        summary: b.summary,
        groups: b.groups,
        sample: b.sample,
        skipped: b.skipped,
        invalid: b.invalid,
        passwords,
        tallies: b.tallies,
        warnings: b.warnings,
        owned_after: b.owned_after,
        conflicts: b.conflicts,
    };
    let file = match b.writer {
        Some(writer) => Some(writer.finish(&footer)?),
        None => None,
    };
    Ok(BuiltPlan {
        plan: Plan {
            plan_id: file.as_ref().map(|f| f.plan_id.clone()).unwrap_or_default(),
            header,
            footer,
        },
        file,
        clients: DesiredSet {
            clients: desired_clients,
        },
    })
}

/// The desired clients and service accounts of `manifest`, with the inputs of their secrets:
/// what `apply` needs beside the plan file.
pub fn collect_desired_clients(manifest: &Manifest) -> Result<DesiredSet, PlanError> {
    let (no_clients, no_accounts) = (HashMap::new(), HashMap::new());
    let live = LiveClients {
        clients: &no_clients,
        accounts: &no_accounts,
        unkeyed_clients: &[],
        unkeyed_accounts: &[],
    };
    let digest = |p: &Path| file_digest(manifest, p);
    Ok(DesiredSet {
        clients: plan_clients(manifest, &live, false, &digest)?.desired,
    })
}

/// One line of [`PlanError::InvalidRecords`]: the values are escaped here because the
/// message keeps its own line breaks, so a newline in an id or a reason would forge a line.
fn describe_invalid(r: &SkippedRecord) -> String {
    let (location, reason) = (terminal(&r.location), terminal(&r.reason));
    match &r.external_id {
        Some(id) => format!("  {location}, external_id `{}`: {reason}", terminal(id)),
        None => format!("  {location}: {reason}"),
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

/// The manifest's target as a plan records it: the resolved API URL (the manifest's, else
/// `AVNOLOGY_API_URL`), or `sandbox:DIR`; empty when there is none (only `validate`, which
/// saves no plan, gets that far without one).
pub fn target_url(manifest: &Manifest) -> String {
    match &manifest.target.url {
        TargetUrl::Sandbox { dir } => format!("sandbox:{}", display_rel(manifest, dir)),
        TargetUrl::Remote(u) => u.clone(),
        TargetUrl::Unset(_) => String::new(),
    }
}

/// The manifest's path as a plan saved in `plan_dir` records it: relative to that folder, so
/// `apply PLAN` finds the manifest from any working directory and in any checkout of the
/// repository. Absolute when the two share no root; as given when the plan is not saved.
fn manifest_path_for(manifest: &Path, plan_dir: Option<&Path>) -> String {
    let given = manifest.display().to_string();
    let Some(plan_dir) = plan_dir else {
        return given;
    };
    let (Ok(manifest), Ok(plan_dir)) = (
        std::fs::canonicalize(manifest),
        std::fs::canonicalize(plan_dir),
    ) else {
        return given;
    };
    relative_to(&plan_dir, &manifest)
        .unwrap_or(manifest)
        .display()
        .to_string()
}

/// `path` relative to the folder `from` (both absolute): `..` for each of `from`'s components
/// past their common prefix, then the rest of `path`. `None` when they share no root.
fn relative_to(from: &Path, path: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = path.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    // Nothing in common beyond nothing (Windows drives): no relative path exists.
    if common == 0 {
        return None;
    }
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to[common..] {
        rel.push(c.as_os_str());
    }
    Some(rel)
}

fn display_rel(manifest: &Manifest, path: &Path) -> String {
    path.strip_prefix(&manifest.dir)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The digest of a source file, refused unless it is the one the manifest pins (when it
/// pins one). Called before any record of the file is read.
fn pinned_digest(
    manifest: &Manifest,
    source: &str,
    path: &Path,
    pinned: Option<&str>,
) -> Result<FileDigest, PlanError> {
    let digest = file_digest(manifest, path)?;
    match pinned {
        Some(pin) if pin != digest.sha256 => Err(PlanError::PinMismatch {
            path: path.display().to_string(),
            source_name: source.to_string(),
            manifest: manifest.path.display().to_string(),
            pinned: pin.to_string(),
            actual: digest.sha256,
        }),
        _ => Ok(digest),
    }
}

fn file_digest(manifest: &Manifest, path: &Path) -> Result<FileDigest, PlanError> {
    let sha256 = super::file::sha256_path(path).map_err(|source| PlanError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(FileDigest {
        path: display_rel(manifest, path),
        sha256,
    })
}
