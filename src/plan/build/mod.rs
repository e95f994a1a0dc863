//! Computing a plan as a stream: every source record is compared with the live index as it
//! arrives and each change is written to the plan file as it is found. Memory holds the
//! compact live index, the duplicate checks (two fixed-size hashes per record), counts and
//! the bounded review sample; never the change list or the records themselves.
//!
//! Changes are written in apply order: the organization, OAuth clients, identities (in
//! source order, which is what lets `apply` read the plan and the sources together in one
//! pass), service accounts, then deletes. [`build`] runs a [`Planner`] through those phases,
//! one file each (`organization`, `identities`, `clients`, `deletes`); `footer` holds what
//! every phase records into, `header` what the plan is bound to, `only` the partial plans of
//! `--only`, and `seen` the duplicate checks.

mod clients;
mod deletes;
mod error;
mod footer;
mod header;
mod identities;
mod only;
mod organization;
mod seen;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde_json::Value;

use super::clients::{DesiredClient, LiveClients, plan_clients};
use super::file::{PlanWriter, WrittenPlan};
use super::live_index::LiveIdentities;
use super::ownership::Ownership;
use super::selection::Selection;
use super::{ObjectKind, Plan, PlanFooter};
use crate::diff;
use crate::manifest::Manifest;
use crate::model::{ExternalId, Identity};
use crate::wire;

pub use error::PlanError;
pub use header::target_url;
pub use only::check_selection;

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

/// The state of one plan being built: what its footer accumulates, the plan file being
/// written, and what the phases remember between records.
struct Planner<'a> {
    manifest: &'a Manifest,
    options: &'a BuildOptions,
    /// The plan file, written as changes are found; `None` when only counting.
    writer: Option<PlanWriter>,
    /// Counts, the review sample, skipped and invalid records, password reports, tallies,
    /// warnings, conflicts and the identities each source owns afterwards.
    footer: PlanFooter,
    /// Warnings past the listed ones.
    warnings_dropped: u64,
    seen: seen::Seen,
    ownership: Ownership,
    /// Declared records whose live identity belongs to a source this manifest does not
    /// name, per that source: left untouched, reported once per source.
    foreign: BTreeMap<String, u64>,
    /// Identities of this manifest scheduled for deletion that the plan restores.
    restores: u64,
    /// With `--only`: the external ids of records the selection's identity addresses matched.
    matched: HashSet<ExternalId>,
}

impl<'a> Planner<'a> {
    /// Starts a plan whose file (unless counting only) begins with `header`.
    fn start(
        manifest: &'a Manifest,
        options: &'a BuildOptions,
        header: &super::PlanHeader,
    ) -> Result<Self, PlanError> {
        let writer = if options.count_only {
            None
        } else {
            Some(PlanWriter::create(options.dir.as_deref(), header)?)
        };
        Ok(Self {
            manifest,
            options,
            writer,
            footer: PlanFooter::default(),
            warnings_dropped: 0,
            seen: seen::Seen::new(),
            ownership: Ownership::of(manifest),
            foreign: BTreeMap::new(),
            restores: 0,
            matched: HashSet::new(),
        })
    }
}

/// Computes a plan for `manifest` against `live`, writing the plan file as it goes (unless
/// `count_only`).
pub fn build(
    manifest: &Manifest,
    live: &mut LiveState,
    options: &BuildOptions,
) -> Result<BuiltPlan, PlanError> {
    check_selection(manifest, options)?;
    let digest = |p: &Path| header::file_digest(manifest, p);
    let mut clients = plan_clients(
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
    only::select_clients(&mut clients, options.only.as_ref());
    let header = header::header(manifest, live, options, &clients.sources)?;
    let mut planner = Planner::start(manifest, options, &header)?;
    planner.organization(live.organization.as_ref())?;
    planner.emit_all(std::mem::take(&mut clients.clients))?;
    planner.identities(&mut live.identities)?;
    planner.check_addresses(&clients.declared)?;
    planner.client_records(&mut clients);
    planner.refuse_invalid()?;
    // Service accounts after identities: their documented create call needs an existing
    // owner identity, which this plan may create.
    planner.emit_all(std::mem::take(&mut clients.service_accounts))?;
    planner.deletes(&mut live.identities, std::mem::take(&mut clients.deletes))?;
    planner.count_unowned(live);
    let (plan, file) = planner.finish(header)?;
    Ok(BuiltPlan {
        plan,
        file,
        clients: DesiredSet {
            clients: clients.desired,
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
    let digest = |p: &Path| header::file_digest(manifest, p);
    Ok(DesiredSet {
        clients: plan_clients(manifest, &live, false, &digest)?.desired,
    })
}
