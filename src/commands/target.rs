//! Connecting to the manifest's target: a real tenant (URL + `AVNOLOGY_SECRET_KEY`) or the
//! local sandbox (an emulator started inside this process on a loopback port, backed by a
//! SQLite file), and reading the live state a plan is computed against.

use std::collections::HashMap;

use anyhow::Context as _;

use crate::emulator::{self, DbLocation, EmulatorConfig, KeyGrant, RunningEmulator};
use crate::env_vars;
use crate::error::WithHint;
use crate::live::{Client, ClientOptions, wire};
use crate::manifest::{Manifest, TargetUrl};
use crate::plan::LiveState;

/// A connection to the target, keeping the sandbox emulator alive while it is used.
pub struct Connection {
    /// The API client.
    pub client: Client,
    /// The in-process emulator, for `url = "sandbox"`.
    pub sandbox: Option<RunningEmulator>,
}

/// Client options from the global flags and the environment.
pub fn client_options(verbose: bool) -> ClientOptions {
    ClientOptions {
        verbose,
        fast_retry: std::env::var(env_vars::AVNOLOGY_MIGRATE_FAST_RETRY).is_ok_and(|v| v == "1"),
        ..ClientOptions::default()
    }
}

/// Connects to `url` with the admin key from the environment.
pub fn connect_remote(url: &str, verbose: bool) -> anyhow::Result<Client> {
    let key = std::env::var(env_vars::AVNOLOGY_SECRET_KEY)
        .ok()
        .filter(|k| !k.trim().is_empty())
        .context("AVNOLOGY_SECRET_KEY is not set")
        .hint("export the tenant's admin API key as AVNOLOGY_SECRET_KEY (or put it in .env); it is never read from the command line or the manifest")?;
    Ok(Client::new(
        url,
        wire::ApiKey::new(key.trim()),
        client_options(verbose),
    )?)
}

/// Connects to the manifest's target, starting the sandbox if that is the target.
pub async fn connect(manifest: &Manifest, verbose: bool) -> anyhow::Result<Connection> {
    match &manifest.target.url {
        TargetUrl::Remote(url) => Ok(Connection {
            client: connect_remote(url.as_str(), verbose)?,
            sandbox: None,
        }),
        TargetUrl::Sandbox { dir } => {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create the sandbox directory `{}`", dir.display())
            })?;
            let db = dir.join("sandbox.db");
            // A fresh key per run: the sandbox is only reachable from this process's
            // lifetime on a random loopback port, and the key never leaves memory.
            let key = format!("ak_test_{}", uuid::Uuid::new_v4().simple());
            let config = EmulatorConfig {
                db: DbLocation::File(db.clone()),
                api_keys: vec![KeyGrant {
                    key: key.clone(),
                    scopes: wire::scopes::ALL.iter().map(|s| s.to_string()).collect(),
                }],
                ..EmulatorConfig::default()
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let running = emulator::start(config, listener).await?;
            let url = format!("http://{}", running.addr);
            anstream::eprintln!(
                "Target: local sandbox at {url} (data in {}). Nothing is sent to Avnology.",
                db.display()
            );
            let client = Client::new(&url, wire::ApiKey::new(key), client_options(verbose))?;
            Ok(Connection {
                client,
                sandbox: Some(running),
            })
        }
    }
}

/// Reads the target organization and its identities.
pub async fn read_live(client: &Client, organization: Option<&str>) -> anyhow::Result<LiveState> {
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
    let filter = org
        .as_ref()
        .map(|o| format!("organization_id = \"{}\"", o.id));
    let mut identities = HashMap::new();
    let mut without = 0;
    client
        .for_each_identity(filter.as_deref(), |identity| {
            match identity.external_id.clone() {
                Some(id) if !id.is_empty() => {
                    identities.insert(id, identity);
                }
                _ => without += 1,
            }
        })
        .await
        .map_err(unauthenticated_hint)?;
    let mut oauth_clients = HashMap::new();
    client
        .for_each_oauth_client(filter.as_deref(), |c| {
            if let Some(id) = c.external_id.clone().filter(|i| !i.is_empty()) {
                oauth_clients.insert(id, c);
            }
        })
        .await
        .map_err(unauthenticated_hint)?;
    let mut service_accounts = HashMap::new();
    client
        .for_each_service_account(filter.as_deref(), |a| {
            if let Some(id) = a.external_id.clone().filter(|i| !i.is_empty()) {
                service_accounts.insert(id, a);
            }
        })
        .await
        .map_err(unauthenticated_hint)?;
    live.organization = org;
    live.identities = identities;
    live.without_external_id = without;
    live.oauth_clients = oauth_clients;
    live.service_accounts = service_accounts;
    Ok(live)
}

/// Adds the hint that matters when the key is wrong.
fn unauthenticated_hint(e: crate::live::Error) -> anyhow::Error {
    if e.is_unauthenticated() {
        crate::error::with_hint(e, "check AVNOLOGY_SECRET_KEY: the API did not accept it")
    } else {
        e.into()
    }
}
