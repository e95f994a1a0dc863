//! Executing a plan against the live tenant.
//!
//! Order: the organization, OAuth clients, identities, service accounts, then deletes. The
//! changes stream from the plan file, paired with their desired records by [`stream`] in one
//! pass over the plan and the sources, so memory does not grow with the plan. Creates carry an
//! `Idempotency-Key` derived from the plan id and the change, so a retry after a lost
//! response never creates twice, and a create that meets an existing `external_id` is
//! reconciled against the desired record instead of duplicated. Updates and deletes send
//! `If-Match` with the planned ETag: a 409 marks that one change stale rather than
//! overwriting someone's edit. [`journal`] records finished changes so an interrupted apply
//! resumes; [`rate`] adapts concurrency and pace to the server.

mod clients;
mod context;
mod executor;
mod guard;
mod identities;
pub mod journal;
pub mod lock;
pub mod log;
mod oauth_clients;
mod organization;
mod outcome;
pub mod rate;
pub mod reconcile;
mod request;
pub mod secrets;
pub mod secrets_out;
mod service_accounts;
pub mod stream;
pub mod tenant;

pub use context::{ApplyOptions, Observer};
pub use executor::execute;
pub use outcome::{ApplyReport, ChangeOutcome, MAX_REPORTED_OUTCOMES, OutcomeKind};
pub use request::{create_request, idempotency_key, password_input, update_request};
