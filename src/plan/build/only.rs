//! A partial plan (`plan --only`): what the selection may name, which records and changes
//! it keeps, and the addresses that matched nothing.

use std::collections::HashSet;

use super::super::clients::ClientPlan;
use super::super::selection::{Address, Selection};
use super::super::{ObjectKind, SkippedRecord};
use super::{BuildOptions, PlanError, Planner};
use crate::manifest::{MANIFEST_CLIENTS, Manifest};
use crate::model::ExternalId;
use crate::render::escape::terminal;

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
            names.push(MANIFEST_CLIENTS);
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

/// Whether the object of `kind` and `key` from `source` is in the plan: always in a full
/// plan.
pub(super) fn selected(
    only: Option<&Selection>,
    kind: ObjectKind,
    key: &str,
    source: Option<&str>,
) -> bool {
    only.is_none_or(|only| only.selects(kind, key, source))
}

/// Narrows the client half to the selection: a partial plan keeps the selected clients'
/// changes and conflicts and deletes nothing.
pub(super) fn select_clients(plan: &mut ClientPlan, only: Option<&Selection>) {
    if only.is_none() {
        return;
    }
    let keep = |kind, key: &ExternalId, source: Option<&str>| selected(only, kind, key, source);
    plan.clients
        .retain(|c| keep(c.kind, &c.key, c.source.as_deref()));
    plan.service_accounts
        .retain(|c| keep(c.kind, &c.key, c.source.as_deref()));
    plan.conflicts
        .retain(|c| keep(c.kind, &c.key, Some(&c.source)));
    plan.deletes.clear();
}

impl Planner<'_> {
    /// Whether a skipped or invalid record is in the `--only` selection (always, for a full
    /// plan); notes an identity address it matches.
    pub(super) fn in_selection(&mut self, record: &SkippedRecord) -> bool {
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

    /// Refuses a selection naming an object no source declared: an identity address no
    /// record matched, or a client key no declaration has.
    pub(super) fn check_addresses(
        &self,
        declared_clients: &HashSet<(ObjectKind, ExternalId)>,
    ) -> Result<(), PlanError> {
        let Some(only) = &self.options.only else {
            return Ok(());
        };
        let mut unknown = Vec::new();
        for a in only.addresses() {
            if let Address::Object(kind, key) = a {
                let found = match kind {
                    ObjectKind::Identity => self.matched.contains(key),
                    _ => declared_clients.contains(&(*kind, key.clone())),
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
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(PlanError::UnknownAddresses(unknown))
        }
    }
}
