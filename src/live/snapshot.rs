//! The live snapshot a plan is computed against ([`LiveState`]): the target organization,
//! its identities (page by page into the plan's compact index, with progress on stderr),
//! its OAuth clients and its service accounts.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Client, Error, filter};
use crate::model::ExternalId;
use crate::plan::{LiveIdentities, LiveState};
use crate::render::progress::Activity;

/// Reads the target: the organization named `organization` (if any) and everything in it
/// a plan compares. A named organization that does not exist yet holds nothing of ours:
/// the snapshot is then empty.
pub async fn read(client: &Client, organization: Option<&str>) -> anyhow::Result<LiveState> {
    let mut live = LiveState::default();
    let org = match organization {
        Some(name) => client
            .find_organization_by_name(name)
            .await
            .map_err(unauthenticated_hint)?,
        None => None,
    };
    if organization.is_some() && org.is_none() {
        // The organization will be created: nothing of ours can exist in it yet.
        return Ok(live);
    }
    let org_id = org.as_ref().map(|o| o.id.as_str());
    read_identities(client, org_id, &mut live.identities).await?;
    let filter = org_id.map(|id| filter::all_equal(&[("organization_id", id)]));
    let mut oauth_clients = ByExternalId::default();
    client
        .for_each_oauth_client(filter.as_deref(), |c| {
            oauth_clients.add(c.external_id.clone(), c);
        })
        .await
        .map_err(unauthenticated_hint)?;
    let mut service_accounts = ByExternalId::default();
    client
        .for_each_service_account(filter.as_deref(), |a| {
            service_accounts.add(a.external_id.clone(), a);
        })
        .await
        .map_err(unauthenticated_hint)?;
    live.organization = org;
    (live.oauth_clients, live.unkeyed_oauth_clients) = (oauth_clients.keyed, oauth_clients.unkeyed);
    (live.service_accounts, live.unkeyed_service_accounts) =
        (service_accounts.keyed, service_accounts.unkeyed);
    Ok(live)
}

/// Lists the identities in the organization `org_id` (or the whole tenant) into `index`,
/// saying on stderr how many were read (of how many, once the server says).
///
/// Identities scheduled for deletion are listed after the others (a listing without a
/// `state` term leaves them out): a plan restores its own instead of creating them again.
async fn read_identities(
    client: &Client,
    org_id: Option<&str>,
    index: &mut LiveIdentities,
) -> anyhow::Result<()> {
    let listed = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(0));
    let activity = {
        let (listed, total) = (listed.clone(), total.clone());
        Activity::start(std::io::stderr().is_terminal(), move || {
            let n = listed.load(Ordering::Relaxed);
            match total.load(Ordering::Relaxed) {
                0 => format!("listing live identities: {n} read"),
                t => format!(
                    "listing live identities: {n} of {t} read ({:.0}%)",
                    n as f64 * 100.0 / t as f64
                ),
            }
        })
    };
    let in_org = org_id.map(|id| ("organization_id", id));
    let live = in_org.map(|term| filter::all_equal(&[term]));
    let soft_deleted_terms: Vec<_> = [("state", "scheduled_deletion")]
        .into_iter()
        .chain(in_org)
        .collect();
    let soft_deleted = filter::all_equal(&soft_deleted_terms);
    let mut spill_error: Option<std::io::Error> = None;
    for (filter, counted) in [
        (live.as_deref(), true),
        (Some(soft_deleted.as_str()), false),
    ] {
        client
            .for_each_identity_counted(
                filter,
                |t| {
                    if counted {
                        total.store(t, Ordering::Relaxed);
                    }
                },
                |identity| {
                    listed.fetch_add(1, Ordering::Relaxed);
                    if spill_error.is_none()
                        && let Err(e) = index.insert(&identity)
                    {
                        spill_error = Some(e);
                    }
                },
            )
            .await
            .map_err(unauthenticated_hint)?;
    }
    if let Some(e) = spill_error {
        return Err(
            anyhow::Error::new(e).context("cannot hold the live identities in a temporary file")
        );
    }
    activity.finish();
    Ok(())
}

/// Listed objects by `external_id`, and apart those without one (never this tool's; their
/// names can still conflict with a declared object's).
struct ByExternalId<T> {
    keyed: HashMap<ExternalId, T>,
    unkeyed: Vec<T>,
}

impl<T> Default for ByExternalId<T> {
    fn default() -> Self {
        Self {
            keyed: HashMap::new(),
            unkeyed: Vec::new(),
        }
    }
}

impl<T> ByExternalId<T> {
    fn add(&mut self, external_id: Option<String>, object: T) {
        match external_id.filter(|id| !id.is_empty()) {
            Some(id) => {
                self.keyed.insert(ExternalId::from(id), object);
            }
            None => self.unkeyed.push(object),
        }
    }
}

/// Adds the hint that matters when the key is wrong.
fn unauthenticated_hint(e: Error) -> anyhow::Error {
    if e.is_unauthenticated() {
        crate::error::with_hint(e, "check AVNOLOGY_SECRET_KEY: the API did not accept it")
    } else {
        e.into()
    }
}
