//! The identities phase of a plan: every record of every `[[users]]` source, in source order,
//! checked for duplicates, compared with its live identity (or the live identity holding its
//! email) and planned as a create, an update, an adoption, a conflict or nothing; with the
//! per-source password report.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde_json::Value;

use super::super::live_index::{LiveIdentities, owner_source};
use super::super::ownership::{Owner, Ownership};
use super::super::{
    Action, Change, Conflict, MAX_LISTED_RECORDS, MAX_LISTED_RESETS, ObjectKind, PasswordReport,
    SkippedRecord,
};
use super::seen::Duplicate;
use super::{PlanError, Planner};
use crate::diff::{self, IdentityAction};
use crate::manifest::{AdoptPolicy, UserSource};
use crate::model::{ExternalId, Identity, PasswordHash};
use crate::sources::{self, Location, UserItem};
use crate::wire;

/// One identity record being planned: the record, where it is, and its position among its
/// source's identity records (what `apply` pairs the change with).
struct Record<'r> {
    source: &'r UserSource,
    identity: &'r Identity,
    location: &'r Location,
    index: u64,
}

impl Planner<'_> {
    /// Plans the identity records of every `[[users]]` source, in the manifest's order.
    pub(super) fn identities(&mut self, live: &mut LiveIdentities) -> Result<(), PlanError> {
        let manifest = self.manifest;
        for source in &manifest.users {
            self.source(source, live)?;
        }
        Ok(())
    }

    /// Plans the records of one source as they are read.
    fn source(&mut self, source: &UserSource, live: &mut LiveIdentities) -> Result<(), PlanError> {
        self.tally(&source.name);
        self.footer
            .owned_after
            .entry(source.name.clone())
            .or_default();
        let mut report = PasswordReport {
            source: source.name.clone(),
            ..Default::default()
        };
        let mut record = 0u64;
        // The first failure inside the callback, which cannot return one.
        let mut failed = None;
        let records_read = self.options.records_read.clone();
        let stats = sources::read_user_source(source, &mut |item| {
            if let Some(counter) = &records_read {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            if failed.is_some() {
                return;
            }
            match item {
                UserItem::Identity(identity, location) => {
                    let at = record;
                    record += 1;
                    let record = Record {
                        source,
                        identity: &identity,
                        location: &location,
                        index: at,
                    };
                    if let Err(e) = self.identity(live, &mut report, &record) {
                        failed = Some(e);
                    }
                }
                UserItem::Skipped(s) => self.skip(SkippedRecord {
                    source: source.name.clone(),
                    location: s.location.to_string(),
                    external_id: s.external_id.map(ExternalId::from),
                    reason: s.reason.describe().to_string(),
                }),
                UserItem::Warning(w) => self.warn(format!("source `{}`: {w}", source.name)),
                UserItem::Invalid(e) => self.reject(SkippedRecord {
                    source: source.name.clone(),
                    location: e.location.to_string(),
                    external_id: e.external_id.clone().map(ExternalId::from),
                    reason: e.message.clone(),
                }),
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        self.footer.summary.source_records += stats.records;
        if stats.passwords_unmatched > 0 {
            self.warn(format!(
                "source `{}`: {} password hash row(s) matched no user in the export",
                source.name, stats.passwords_unmatched
            ));
        }
        if source.firebase_hash.is_some() && report.firebase_scrypt > 0 {
            self.warn(format!(
                "source `{}`: the Firebase hash parameters ([users.firebase_hash]) cannot be checked against the hashes before users log in; wrong parameters make all {} imported passwords fail — check a few with `avnology-migrate verify --logins FILE` after apply",
                source.name, report.firebase_scrypt
            ));
        }
        self.footer.passwords.push(report);
        Ok(())
    }

    /// Plans one identity record.
    fn identity(
        &mut self,
        live: &mut LiveIdentities,
        report: &mut PasswordReport,
        rec: &Record<'_>,
    ) -> Result<(), PlanError> {
        let (source, key) = (rec.source, &rec.identity.external_id);
        if self.is_duplicate(rec) {
            return Ok(());
        }
        if let Some(only) = &self.options.only {
            if only.names(ObjectKind::Identity, key) {
                self.matched.insert(key.clone());
            }
            if !only.selects(ObjectKind::Identity, key, Some(&source.name)) {
                // Outside the selection: not planned, and its live identity (if any) is
                // neither read nor touched.
                return Ok(());
            }
        }
        self.tally(&source.name).accepted += 1;
        count_password(report, rec.identity);
        if self.options.destroy {
            return Ok(());
        }
        if self.options.count_only && live.is_empty() {
            // Against an empty tenant (`validate`) every record is a create: count it
            // without projecting and hashing a record nobody will see.
            if !self.count(ObjectKind::Identity, Action::Create) {
                return Ok(());
            }
            self.footer.sample.push(Change {
                kind: ObjectKind::Identity,
                action: Action::Create,
                key: key.clone(),
                source: Some(source.name.clone()),
                live_id: None,
                etag: None,
                desired_digest: None,
                fields: Vec::new(),
                record: Some(rec.index),
            });
            return Ok(());
        }
        self.compare(live, rec)
    }

    /// Rejects a record whose external_id or email an earlier record already has.
    fn is_duplicate(&mut self, rec: &Record<'_>) -> bool {
        let identity = rec.identity;
        let key = &identity.external_id;
        let Err(duplicate) = self
            .seen
            .first(key, identity.email.as_deref(), rec.location)
        else {
            return false;
        };
        let reason = match duplicate {
            Duplicate::ExternalId(first) => {
                format!("duplicate external_id, first declared at {first}")
            }
            Duplicate::Email(first) => format!(
                "email `{}` is also the email of the record at {first}",
                identity.email.as_deref().unwrap_or_default()
            ),
        };
        self.reject(SkippedRecord {
            source: rec.source.name.clone(),
            location: rec.location.to_string(),
            external_id: Some(key.clone()),
            reason,
        });
        true
    }

    /// Plans a record against its live identity (by external_id) or the live identity that
    /// holds its email: a create, an update, a state change, an adoption, a conflict, or
    /// nothing.
    fn compare(&mut self, live: &mut LiveIdentities, rec: &Record<'_>) -> Result<(), PlanError> {
        let (source, key) = (rec.source, &rec.identity.external_id);
        let fields = diff::desired_fields(rec.identity, &source.name);
        let live_identity = live.claim(key).map_err(PlanError::LiveIndex)?;
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
        if self.take_over(live, rec, &fields, live_identity.as_ref())? {
            return Ok(());
        }
        let d = diff::diff_identity(
            &fields,
            live_identity.as_ref(),
            &self.manifest.policy.ignore_changes,
        );
        if d.action != IdentityAction::Unowned {
            *self
                .footer
                .owned_after
                .entry(source.name.clone())
                .or_default() += 1;
        }
        if live_identity
            .as_ref()
            .is_some_and(|l| l.state == wire::IdentityState::ScheduledDeletion)
        {
            self.restores += 1;
        }
        let action = match d.action {
            IdentityAction::NoOp => {
                self.footer.summary.no_op += 1;
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
            key: key.clone(),
            source: Some(source.name.clone()),
            live_id: live_identity.as_ref().map(|l| l.id.clone()),
            etag: live_identity.map(|l| l.etag),
            desired_digest: Some(digest),
            fields: d.changes,
            record: Some(rec.index),
        })
    }

    /// Plans the adoption of (or a conflict with) a live identity this manifest did not
    /// create: one under the record's external_id without an owner marker, or another that
    /// holds the record's email (a dual-write sign-up, another source's identity, or one this
    /// manifest keys differently), found here rather than by a 409 in the middle of apply.
    /// Returns whether there was one.
    fn take_over(
        &mut self,
        live: &mut LiveIdentities,
        rec: &Record<'_>,
        fields: &BTreeMap<String, Value>,
        live_identity: Option<&wire::Identity>,
    ) -> Result<bool, PlanError> {
        let (identity, key) = (rec.identity, &rec.identity.external_id);
        // When the record's own live identity already holds the email (the common case at
        // a re-plan), it is the email's only holder: no second read of the index.
        let holds_own_email = live_identity.is_some_and(|l| {
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
        let unmarked_same_key = live_identity.filter(|l| {
            l.state != wire::IdentityState::ScheduledDeletion
                && self.ownership.owner(&l.admin_metadata) == Owner::Unmarked
        });
        if let Some(l) = unmarked_same_key {
            let same_email = identity
                .email
                .as_deref()
                .is_some_and(|e| e.to_lowercase() == l.email.to_lowercase());
            let verdict = if same_email {
                self.adoptable(identity, l)
            } else {
                Err("an identity with this external_id exists in the tenant with another email and was not created by avnology-migrate; it is left untouched".to_string())
            };
            match verdict {
                Ok(()) => self.adopt(rec, fields, l.clone())?,
                Err(reason) => self.conflict(rec, l, reason),
            }
            return Ok(true);
        }
        let Some((slot, other)) = email_holder else {
            return Ok(false);
        };
        let adoptable = live_identity.is_none()
            && other.external_id.as_deref().is_none_or(str::is_empty)
            && self.ownership.owner(&other.admin_metadata) == Owner::Unmarked;
        let verdict = if adoptable {
            self.adoptable(identity, &other)
        } else {
            Err(email_taken(&self.ownership, &other))
        };
        match verdict {
            Ok(()) => {
                live.claim_slot(slot);
                self.adopt(rec, fields, other)?;
            }
            Err(reason) => self.conflict(rec, &other, reason),
        }
        Ok(true)
    }

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

    /// Plans the adoption of `live` as the record `rec`.
    fn adopt(
        &mut self,
        rec: &Record<'_>,
        fields: &BTreeMap<String, Value>,
        live: wire::Identity,
    ) -> Result<(), PlanError> {
        let source = rec.source;
        *self
            .footer
            .owned_after
            .entry(source.name.clone())
            .or_default() += 1;
        let key = &rec.identity.external_id;
        let changes =
            diff::adopt_identity(fields, &live, key, &self.manifest.policy.ignore_changes);
        self.emit(Change {
            kind: ObjectKind::Identity,
            action: Action::Adopt,
            key: key.clone(),
            source: Some(source.name.clone()),
            live_id: Some(live.id),
            etag: Some(live.etag),
            desired_digest: Some(diff::desired_digest(fields)),
            fields: changes,
            record: Some(rec.index),
        })
    }

    /// Records a conflict between `rec` and `live`: listed with both sides, left out.
    fn conflict(&mut self, rec: &Record<'_>, live: &wire::Identity, reason: String) {
        let identity = rec.identity;
        self.footer.summary.conflicts += 1;
        if self.footer.conflicts.len() < MAX_LISTED_RECORDS {
            self.footer.conflicts.push(Conflict {
                kind: ObjectKind::Identity,
                key: identity.external_id.clone(),
                source: rec.source.name.clone(),
                location: rec.location.to_string(),
                desired: identity.email.clone(),
                live_id: live.id.clone(),
                live_external_id: live
                    .external_id
                    .clone()
                    .filter(|k| !k.is_empty())
                    .map(ExternalId::from),
                live: Some(live.email.clone()),
                live_owner: owner_source(live).map(str::to_string),
                reason,
            });
        }
    }
}

/// Why a record may not take over `other`, the live identity that holds its email.
fn email_taken(ownership: &Ownership, other: &wire::Identity) -> String {
    match ownership.owner(&other.admin_metadata) {
        Owner::Foreign(s) => format!(
            "the email is used by an identity of source `{s}`, which this manifest does not name; never adopted"
        ),
        Owner::Ours(_) | Owner::Adopted(_) => format!(
            "the email is used by this manifest's identity `{}`; an email belongs to one record",
            other.external_id.as_deref().unwrap_or_default()
        ),
        Owner::Unmarked => match other.external_id.as_deref() {
            Some(k) if !k.is_empty() => format!(
                "the email is used by an identity with another external_id (`{k}`) not created by avnology-migrate; never adopted"
            ),
            _ => "this record's identity exists under its external_id; the email is used by another identity".to_string(),
        },
    }
}

/// Counts `identity` in its source's password report.
fn count_password(report: &mut PasswordReport, identity: &Identity) {
    match &identity.password {
        Some(PasswordHash::Bcrypt(_)) => report.bcrypt += 1,
        Some(PasswordHash::FirebaseScrypt { .. }) => report.firebase_scrypt += 1,
        None if identity.password_unsupported.is_some() => {
            report.reset_unsupported += 1;
            if report.unsupported_users.len() < MAX_LISTED_RESETS {
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
