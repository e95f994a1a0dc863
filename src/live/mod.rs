//! The Avnology admin API client: the only module that speaks HTTP to Avnology.
//!
//! [`Client`] wraps reqwest (rustls) with the tool's policies: HTTPS except to loopback, the
//! headers Avnology expects, retries with exponential backoff and jitter on transient failures
//! ([`retry`]), and errors that name the call but never a secret ([`Error`]). Every body it
//! sends or reads is a [`wire`] type shared with the emulator, so the two cannot drift; every
//! assumption about the undocumented parts of the API lives in `wire` and here. Secrets the
//! API shows once (OAuth client secrets, minted API keys) reach the caller in the create
//! result and are masked everywhere else. [`snapshot`] reads the live state a plan is
//! computed against.

mod client;
mod error;
pub mod filter;
pub mod pace;
pub mod retry;
pub mod snapshot;
pub mod tls;

pub use client::{
    Client, ClientOptions, ClientStats, LoginOutcome, MAX_PAGE_SIZE, MAX_REMEMBERED_SECRETS,
    RateLimitHint, USER_AGENT,
};
pub use error::{ApiErrorDetails, Error, Outage};

/// The result of a [`Client`] call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
