//! A local Avnology ID admin API: the contract in `schemas/avnology-admin.openapi.yaml`,
//! served by axum over SQLite, for the integration tests, for the tool's in-process
//! `sandbox` target, and for teams rehearsing a migration before touching a real tenant.
//!
//! Routes (request and response bodies are [`crate::wire`] types):
//!
//! - `POST /v1/identities`, `GET /v1/identities` (`admin:users:write` / `admin:users:read`)
//! - `GET`, `PATCH`, `DELETE /v1/identities/{id}`
//! - `POST /v1/identities/{id}:deactivate`, `POST /v1/identities/{id}:reactivate`
//! - `POST /v1/organizations`, `GET /v1/organizations` (`admin:orgs:write` / `admin:orgs:read`)
//! - `GET`, `PATCH /v1/organizations/{id}`
//! - `POST /v1/oauth-clients`, `GET /v1/oauth-clients` (`admin:oauth-clients:write` /
//!   `admin:oauth-clients:read`, assumed resource), `GET`, `PATCH`, `DELETE
//!   /v1/oauth-clients/{client_id}`
//! - `POST /v1/service-accounts`, `GET /v1/service-accounts` (`admin:service-accounts:write`
//!   / `…:read`), `GET`, `PATCH`, `DELETE /v1/service-accounts/{id}`, and
//!   `POST`, `GET /v1/service-accounts/{id}/keys`, `DELETE …/keys/{key_id}`
//! - `POST /v1/flows/login`, `POST /v1/flows/login/{flow_id}:submit` (no key: end users)
//!
//! Module map: [`config`] (what it starts with), [`store`] (SQLite), [`routes`] (handlers),
//! [`auth`] (keys and scopes), [`faults`] and [`conn`] (injected failures), [`password`]
//! (Argon2id, bcrypt, Firebase scrypt), [`filter`] and [`paging`] (list queries), [`etag`],
//! [`validate`], [`error`] (codes and the error envelope), and [`bench`] (scale-benchmark
//! requests and seeding).

pub mod auth;
pub mod bench;
pub mod config;
pub mod conn;
pub mod error;
pub mod etag;
pub mod faults;
pub mod filter;
pub mod paging;
pub mod password;
pub mod routes;
pub mod store;
pub mod validate;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{DbLocation, EmulatorConfig, FaultConfig, KeyGrant, RateLimit, generate_api_key};

use conn::{ConnHandle, DroppableListener};
use faults::Faults;
use store::Store;

/// Shared state of a running emulator, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    faults: Faults,
    log_requests: bool,
    /// The scopes of each configured key, by the key's SHA-256 digest: the same set the
    /// `api_keys` table holds, which never changes while the emulator runs, so checking a
    /// request's key costs no database read.
    key_scopes: HashMap<String, Vec<String>>,
}

impl AppState {
    /// Validates the configuration, opens the database (creating the schema) and installs
    /// exactly the configured API keys.
    pub fn new(config: &EmulatorConfig) -> anyhow::Result<Self> {
        config.validate()?;
        let store = Store::open_with(&config.db, !config.faults.no_unique_external_id)?;
        let grants = config.api_keys.clone();
        store
            .blocking(move |c| store::api_keys::replace_all(c, &grants))
            .context("cannot store the emulator's API keys")?;
        if config.faults.expire_idempotency_keys {
            store
                .blocking(|c| store::idempotency::forget_all(c))
                .context("cannot expire the stored idempotency keys")?;
        }
        // Later grants of the same key win, as in the table.
        let key_scopes = config
            .api_keys
            .iter()
            .map(|g| (store::api_keys::digest(&g.key), g.scopes.clone()))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                faults: Faults::new(config.faults.clone()),
                log_requests: config.log_requests,
                key_scopes,
            }),
        })
    }

    /// The scopes of a key the emulator was started with, or `None` for any other key.
    pub fn configured_key_scopes(&self, key: &str) -> Option<&[String]> {
        self.inner
            .key_scopes
            .get(&store::api_keys::digest(key))
            .map(Vec::as_slice)
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Fault state.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Whether each request is logged to stderr.
    pub fn log_requests(&self) -> bool {
        self.inner.log_requests
    }

    /// Whether creates and updates refuse a second object with the same `external_id` in
    /// an organization (false under `--no-unique-external-id`).
    pub fn unique_external_id(&self) -> bool {
        !self.inner.faults.config().no_unique_external_id
    }
}

/// The emulator's router with every layer, ready to serve (axum's `examples/testing` shape).
/// `--fault-drop` needs the connection handles that [`start`] provides; served any other
/// way, a dropped request is answered 500 instead.
pub fn app(state: AppState) -> axum::Router {
    routes::router(state)
}

/// A running emulator; dropping it without [`RunningEmulator::shutdown`] also stops it
/// (without waiting).
#[derive(Debug)]
pub struct RunningEmulator {
    /// The bound address (the real port when started on `:0`).
    pub addr: SocketAddr,
    /// The RNG seed of the fault injection, for replaying a run.
    pub fault_seed: u64,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningEmulator {
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (up to 10 s), and waits for the
    /// server task.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Idle keep-alive connections can hold graceful shutdown open; after the
            // timeout the listener is closed anyway, so stop waiting.
            if let Ok(joined) = tokio::time::timeout(Duration::from_secs(10), task).await {
                joined
                    .context("the emulator task failed")?
                    .context("the emulator server failed")?;
            }
        }
        Ok(())
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts an emulator on `listener`, spawned on the current tokio runtime.
// `async` although nothing is awaited: the server is spawned with `tokio::spawn`, which
// needs a runtime, and an `async fn` can only be run on one.
#[allow(clippy::unused_async)]
pub async fn start(
    config: EmulatorConfig,
    listener: TcpListener,
) -> anyhow::Result<RunningEmulator> {
    let state = AppState::new(&config)?;
    let fault_seed = state.faults().seed();
    let addr = listener
        .local_addr()
        .context("cannot read the emulator's listening address")?;
    let (tx, rx) = oneshot::channel::<()>();
    let service = app(state).into_make_service_with_connect_info::<ConnHandle>();
    let server =
        axum::serve(DroppableListener::new(listener), service).with_graceful_shutdown(async move {
            let _ = rx.await;
        });
    let task = tokio::spawn(async move { server.await });
    Ok(RunningEmulator {
        addr,
        fault_seed,
        shutdown: Some(tx),
        task: Some(task),
    })
}
