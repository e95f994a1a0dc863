//! What an apply is given and what its changes share. [`ApplyOptions`] is what the caller
//! chooses (concurrency, pace, journal, cancel flag, observer, secrets, ownership);
//! [`ApplyContext`] is what every change of one run needs once the run has started (the
//! client, the plan's id, the desired clients, the organization and service-account owner
//! resolved for it, the rate controller), handed to each change's task as one value instead
//! of a long argument list.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::journal::Journal;
use super::outcome::ChangeOutcome;
use super::rate::RateController;
use super::secrets::SecretsFile;
use crate::live::Client;
use crate::plan::ownership::Ownership;
use crate::plan::{Change, DesiredSet};
use crate::printer::Trace;

/// Called with every finished change (progress bars, the NDJSON log).
pub type Observer = Arc<dyn Fn(&ChangeOutcome) + Send + Sync>;

/// Options for [`super::execute`].
#[derive(Clone)]
pub struct ApplyOptions {
    /// The most requests in flight at once (the adaptive limit starts here and never
    /// exceeds it).
    pub concurrency: usize,
    /// A cap on changes started per second.
    pub max_rps: Option<f64>,
    /// Where finished changes are recorded, for resume.
    pub journal: Option<Arc<Journal>>,
    /// Raised to stop dispatching (Ctrl-C).
    pub cancel: Arc<AtomicBool>,
    /// Called with every outcome.
    pub observer: Option<Observer>,
    /// Where rate-control decisions go (`--verbose`); off by default.
    pub trace: Trace,
    /// Where warnings that do not stop the apply go (a journal write that failed); stderr
    /// by default.
    pub notices: Trace,
    /// Where minted client secrets and API keys go.
    pub secrets: Option<Arc<SecretsFile>>,
    /// Email of the identity that owns new service accounts.
    pub service_account_owner: Option<String>,
    /// The sources whose objects this apply may change or delete: the live object's owner
    /// marker is checked against them before every update, state change and delete.
    pub ownership: Arc<Ownership>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            concurrency: 8,
            max_rps: None,
            journal: None,
            cancel: Arc::default(),
            observer: None,
            trace: Trace::off(),
            notices: Trace::stderr(),
            secrets: None,
            service_account_owner: None,
            ownership: Arc::default(),
        }
    }
}

impl std::fmt::Debug for ApplyOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("concurrency", &self.concurrency)
            .field("max_rps", &self.max_rps)
            .field("journal", &self.journal)
            .finish_non_exhaustive()
    }
}

/// What every change of one apply needs. Cheap to share: the tasks that run changes hold
/// it behind an `Arc`.
#[derive(Clone)]
pub(crate) struct ApplyContext {
    /// The tenant.
    pub client: Client,
    /// The plan's id, from which every create's `Idempotency-Key` is derived.
    pub plan_id: Arc<str>,
    /// The desired OAuth clients and service accounts, re-read from the manifest.
    pub desired: Arc<DesiredSet>,
    /// The id of the plan's organization, settled before any other change.
    pub organization_id: Option<String>,
    /// The identity that owns new service accounts, looked up when their phase starts.
    pub owner_id: Option<String>,
    /// Where minted client secrets and API keys go.
    pub secrets: Option<Arc<SecretsFile>>,
    /// The sources whose objects this apply may change or delete.
    pub ownership: Arc<Ownership>,
    /// Adapts concurrency and pace to the server; hears every attempt.
    pub controller: Arc<RateController>,
}

impl ApplyContext {
    /// The organization new objects go in.
    pub fn organization(&self) -> Option<&str> {
        self.organization_id.as_deref()
    }

    /// The `Idempotency-Key` of a create of `change` (see [`super::idempotency_key`]).
    pub fn idempotency_key(&self, change: &Change) -> String {
        super::request::idempotency_key(&self.plan_id, change)
    }
}
