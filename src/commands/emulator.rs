//! `avnology-migrate emulator`: run the local Avnology admin API until Ctrl-C or SIGTERM.
//!
//! This file only turns flags into an [`EmulatorConfig`] and reports on stderr: the
//! generated key (when `--api-key` is absent: it is the local emulator's own key, and
//! printing it once is how the user learns it), the fault seed, and `listening on
//! http://ADDR` once the socket accepts connections.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

use crate::emulator::{self, DbLocation, EmulatorConfig, FaultConfig, KeyGrant, RateLimit};
use crate::error::Exit;
use crate::model::Secret;

/// Run a local Avnology ID admin API (SQLite-backed) for rehearsals and tests.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on (port 0 picks a free port; the real address is printed).
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: String,
    /// SQLite database file (created if missing; data survives restarts), or `:memory:`.
    #[arg(long, default_value = ":memory:", value_name = "FILE|:memory:")]
    pub db: String,
    /// The admin key to accept, with every scope. Without it a key is generated and printed
    /// on stderr. This is the local emulator's own key, never a tenant's.
    #[arg(long, value_name = "KEY", value_parser = parse_secret)]
    pub api_key: Option<Secret>,
    /// An extra key with only the listed scopes, as KEY=scope,scope (repeatable). Scopes:
    /// admin:users:read|write, admin:orgs:read|write, admin:oauth-clients:read|write,
    /// admin:service-accounts:read|write.
    #[arg(long = "key", value_name = "KEY=SCOPES", value_parser = parse_key_grant)]
    pub keys: Vec<ScopedKey>,
    /// Token-bucket rate limit over /v1 requests, in requests per second; over it the
    /// emulator answers 429 with Retry-After.
    #[arg(long, value_name = "RPS", value_parser = parse_rps)]
    pub rate_limit: Option<f64>,
    /// Bucket size of the rate limit (default: the rate rounded up, at least 1).
    #[arg(long, value_name = "N", requires = "rate_limit", value_parser = clap::value_parser!(u32).range(1..))]
    pub burst: Option<u32>,
    /// Probability (0–1) of answering an admin request 503 before doing anything.
    #[arg(long = "fault-5xx", value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub fault_5xx: f64,
    /// Probability (0–1) of answering a successful admin write 500 after committing it.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub fault_commit_fail: f64,
    /// Probability (0–1) of closing an admin request's connection without any response.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub fault_drop: f64,
    /// Probability (0–1) of closing a successful admin write's connection without any
    /// response, after committing it.
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = parse_probability)]
    pub fault_drop_after_commit: f64,
    /// Accept a second identity, OAuth client or service account with the same external_id
    /// in an organization (Avnology is assumed to refuse it; this tests a client that must
    /// not rely on that).
    #[arg(long)]
    pub no_unique_external_id: bool,
    /// Forget every stored Idempotency-Key record at start, as Avnology forgets them once
    /// they expire (for tests of a resume long after a crash).
    #[arg(long)]
    pub expire_idempotency_keys: bool,
    /// Latency added to every admin request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Seed of the fault RNG, to replay a run (printed when faults are on and none is given).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Log one line per request (method, path, status, time, request id) on stderr. Never
    /// headers, queries or bodies.
    #[arg(long)]
    pub log_requests: bool,
}

/// A `--key KEY=scope,scope` value. `Debug` hides the key.
#[derive(Clone)]
pub struct ScopedKey(KeyGrant);

impl std::fmt::Debug for ScopedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

fn parse_key_grant(value: &str) -> Result<ScopedKey, String> {
    let (key, scopes) = value
        .split_once('=')
        .ok_or_else(|| "expected KEY=scope,scope".to_string())?;
    let scopes: Vec<String> = scopes
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if key.is_empty() || scopes.is_empty() {
        return Err("expected KEY=scope,scope with at least one scope".to_string());
    }
    Ok(ScopedKey(KeyGrant {
        key: key.to_string(),
        scopes,
    }))
}

/// `--api-key`: kept as a [`Secret`] so `Debug` of the parsed command line never shows it.
// clap's `value_parser` takes a function that returns a `Result`.
#[allow(clippy::unnecessary_wraps)]
fn parse_secret(value: &str) -> Result<Secret, String> {
    Ok(Secret::new(value))
}

fn parse_probability(value: &str) -> Result<f64, String> {
    let p: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    emulator::config::check_probability(p)
}

fn parse_rps(value: &str) -> Result<f64, String> {
    let r: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    if r.is_finite() && r > 0.0 {
        Ok(r)
    } else {
        Err(format!("`{value}` is not a positive rate"))
    }
}

impl EmulatorArgs {
    /// The configuration these flags describe, and the generated admin key if one was
    /// needed.
    fn config(&self) -> (EmulatorConfig, Option<String>) {
        let generated = self.api_key.is_none().then(emulator::generate_api_key);
        let admin = self
            .api_key
            .as_ref()
            .map(|k| k.expose().to_string())
            .or_else(|| generated.clone());
        let mut api_keys: Vec<KeyGrant> = admin.into_iter().map(KeyGrant::admin).collect();
        api_keys.extend(self.keys.iter().map(|k| k.0.clone()));
        let rate_limit = self.rate_limit.map(|rps| RateLimit {
            rps,
            // Default bucket: one second's worth of requests.
            burst: self.burst.unwrap_or_else(|| (rps.ceil() as u32).max(1)),
        });
        let config = EmulatorConfig {
            db: DbLocation::parse(&self.db),
            api_keys,
            faults: FaultConfig {
                rate_limit,
                fault_5xx: self.fault_5xx,
                fault_commit_fail: self.fault_commit_fail,
                fault_drop: self.fault_drop,
                fault_drop_after_commit: self.fault_drop_after_commit,
                no_unique_external_id: self.no_unique_external_id,
                expire_idempotency_keys: self.expire_idempotency_keys,
                latency: Duration::from_millis(self.latency_ms),
                seed: self.seed,
            },
            log_requests: self.log_requests,
        };
        (config, generated)
    }
}

/// Runs the emulator until interrupted.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<Exit> {
    let (config, generated) = args.config();
    config.validate()?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on `{}`", args.listen))?;
    let probabilistic = config.faults.is_probabilistic();
    let signal = ShutdownSignal::install()?;
    let running = emulator::start(config, listener).await?;
    if let Some(key) = generated {
        crate::printer::status(&format!(
            "admin API key (all scopes; the emulator's own, stored hashed): {key}"
        ));
    }
    if probabilistic && args.seed.is_none() {
        crate::printer::status(&format!(
            "fault seed: {} (replay with --seed {})",
            running.fault_seed, running.fault_seed
        ));
    }
    if !is_loopback(running.addr) {
        crate::printer::status(
            "warning: the emulator is listening on a non-loopback address; it is for local \
             rehearsals and tests only",
        );
    }
    crate::printer::status(&format!("listening on {}", running.url()));
    signal.recv().await;
    crate::printer::status("shutting down");
    running.shutdown().await?;
    Ok(Exit::Success)
}

fn is_loopback(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Ctrl-C and SIGTERM, registered before `listening on` is printed: a signal that arrives
/// as soon as a supervisor sees that line must reach this handler, not the default action
/// (which would kill the process without a graceful shutdown).
struct ShutdownSignal {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    fn install() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())
                    .context("cannot install the Ctrl-C handler")?,
                terminate: signal(SignalKind::terminate())
                    .context("cannot install the SIGTERM handler")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    /// Resolves on the first Ctrl-C or SIGTERM.
    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.interrupt.recv() => {},
            _ = self.terminate.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_grants_parse() {
        let k = parse_key_grant("ak_test_abcdefgh=admin:users:read, admin:orgs:read").unwrap();
        assert_eq!(k.0.key, "ak_test_abcdefgh");
        assert_eq!(k.0.scopes, vec!["admin:users:read", "admin:orgs:read"]);
        assert!(!format!("{k:?}").contains("abcdefgh"));
        let s = parse_secret("ak_test_topsecret").unwrap();
        assert!(!format!("{s:?}").contains("topsecret"));
        for bad in ["nokey", "=admin:users:read", "ak_test_x="] {
            assert!(parse_key_grant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn probabilities_and_rates_parse() {
        assert_eq!(parse_probability("0.25"), Ok(0.25));
        assert!(parse_probability("1.5").is_err());
        assert!(parse_probability("-0.1").is_err());
        assert!(parse_probability("NaN").is_err());
        assert!(parse_rps("0").is_err());
        assert_eq!(parse_rps("2.5"), Ok(2.5));
    }
}
