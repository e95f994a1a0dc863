//! Connecting to the manifest's target: a real tenant (URL + `AVNOLOGY_SECRET_KEY`) or the
//! local sandbox (an emulator started inside this process on a loopback port, backed by a
//! SQLite file); reading the live state a plan is computed against through
//! [`crate::live::snapshot`], and building that plan with progress on stderr.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;

use crate::cli::GlobalArgs;
use crate::emulator::{self, DbLocation, EmulatorConfig, KeyGrant, RunningEmulator};
use crate::env_vars;
use crate::error::WithHint;
use crate::live::{Client, ClientOptions};
use crate::manifest::{Manifest, TargetUrl};
use crate::plan::LiveState;
use crate::render::progress::Activity;
use crate::wire;

/// A connection to the target, keeping the sandbox emulator alive while it is used.
pub struct Connection {
    /// The API client.
    pub client: Client,
    /// The in-process emulator, for `url = "sandbox"`.
    pub sandbox: Option<RunningEmulator>,
}

/// Client options from the global flags and the environment.
pub fn client_options(global: &GlobalArgs) -> ClientOptions {
    ClientOptions {
        trace: crate::printer::Trace::verbose(global.verbose),
        give_up_after: global.give_up_after,
        fast_retry: std::env::var(env_vars::AVNOLOGY_MIGRATE_FAST_RETRY).is_ok_and(|v| v == "1"),
        ..ClientOptions::default()
    }
}

/// Connects to `url` with the admin key from the environment.
pub fn connect_remote(url: &str, global: &GlobalArgs) -> anyhow::Result<Client> {
    let key = std::env::var(env_vars::AVNOLOGY_SECRET_KEY)
        .ok()
        .filter(|k| !k.trim().is_empty())
        .context("AVNOLOGY_SECRET_KEY is not set")
        .hint("export the tenant's admin API key as AVNOLOGY_SECRET_KEY (or put it in .env); it is never read from the command line or the manifest")?;
    Ok(Client::new(
        url,
        wire::ApiKey::new(key.trim()),
        client_options(global),
    )?)
}

/// Connects to the manifest's target, starting the sandbox if that is the target.
pub async fn connect(manifest: &Manifest, global: &GlobalArgs) -> anyhow::Result<Connection> {
    match &manifest.target.url {
        TargetUrl::Unset(message) => Err(anyhow::anyhow!("{message}")),
        TargetUrl::Remote(url) => Ok(Connection {
            client: connect_remote(url.as_str(), global)?,
            sandbox: None,
        }),
        TargetUrl::Sandbox { dir } => {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create the sandbox directory `{}`", dir.display())
            })?;
            protect_sandbox(dir)?;
            let db = dir.join("sandbox.db");
            // A fresh key per run: the sandbox is only reachable from this process's
            // lifetime on a random loopback port, and the key never leaves memory.
            let key = format!("ak_test_{}", uuid::Uuid::new_v4().simple());
            let config = EmulatorConfig {
                db: DbLocation::File(db.clone()),
                api_keys: vec![KeyGrant {
                    key: key.clone(),
                    scopes: wire::scopes::ALL
                        .iter()
                        .map(std::string::ToString::to_string)
                        .collect(),
                }],
                ..EmulatorConfig::default()
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let running = emulator::start(config, listener).await?;
            let url = format!("http://{}", running.addr);
            crate::printer::status(&format!(
                "Target: local sandbox at {url} (data in {}). Nothing is sent to Avnology.",
                crate::render::escape::terminal(&db.display().to_string())
            ));
            let client = Client::new(&url, wire::ApiKey::new(key), client_options(global))?;
            Ok(Connection {
                client,
                sandbox: Some(running),
            })
        }
    }
}

/// The sandbox holds imported password hashes: only its owner may read it, and git never
/// picks it up.
fn protect_sandbox(dir: &std::path::Path) -> anyhow::Result<()> {
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(
            &ignore,
            "# The local Avnology sandbox: imported password hashes. Never commit it.\n*\n",
        )
        .with_context(|| format!("cannot write `{}`", ignore.display()))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make the sandbox `{}` private", dir.display()))?;
    }
    Ok(())
}

/// Reads the target organization, its identities (page by page into a compact index), its
/// OAuth clients and service accounts, with progress on stderr.
pub async fn read_live(client: &Client, organization: Option<&str>) -> anyhow::Result<LiveState> {
    crate::live::snapshot::read(client, organization).await
}

/// Plans `manifest` against `live` with progress on stderr ("N source records read"), off
/// the async runtime's threads (the sandbox emulator keeps serving meanwhile).
pub fn build_plan(
    manifest: &Manifest,
    live: &mut LiveState,
    mut options: crate::plan::BuildOptions,
) -> Result<crate::plan::build::BuiltPlan, crate::plan::PlanError> {
    let records = Arc::new(AtomicU64::new(0));
    options.records_read = Some(records.clone());
    let activity = Activity::start(std::io::stderr().is_terminal(), move || {
        format!(
            "reading sources: {} records",
            records.load(Ordering::Relaxed)
        )
    });
    let built = tokio::task::block_in_place(|| crate::plan::build(manifest, live, &options));
    activity.finish();
    built
}
