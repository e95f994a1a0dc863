//! One file per verb: the clap argument struct and the glue that calls into the library.

pub mod apply;
pub mod docs;
pub mod emulator;
mod logins;
pub mod pin;
pub mod plan;
pub mod provider;
pub mod show;
mod target;
pub mod validate;
pub mod verify;

use std::path::PathBuf;

use crate::cli::{Cli, Command};
use crate::error::Exit;

/// Requests in flight at once unless `--concurrency` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// How fast an apply goes and where it logs each change: the flags `apply` and the
/// provider commands share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PaceArgs {
    /// The most requests in flight at once (the tool adapts below this to the server).
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Never start more than this many changes per second.
    #[arg(long, value_parser = parse_rate)]
    pub max_rps: Option<f64>,
    /// Write one NDJSON line per finished change (key, action, outcome, attempts, id, error).
    #[arg(long)]
    pub log: Option<PathBuf>,
}

/// Parses `--max-rps`: a positive, finite number of changes per second (0 or NaN would
/// otherwise silently mean "no cap").
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        Ok(_) => Err(format!(
            "`{s}` is not a rate: give a positive number of changes per second, or leave --max-rps out for no cap"
        )),
        Err(e) => Err(format!("`{s}`: {e}")),
    }
}

/// The manifest a command reads, for finding the `.env` beside it: `-m` (or its default), or
/// for `apply PLAN` the manifest the plan records. `None` for commands without one.
pub fn manifest_of(command: &Command) -> Option<PathBuf> {
    match command {
        Command::Validate(a) => Some(a.manifest.clone()),
        Command::Plan(a) => Some(a.manifest.clone()),
        Command::Pin(a) => Some(a.manifest.clone()),
        Command::Verify(a) => Some(a.manifest.clone()),
        Command::Apply(a) => match (&a.manifest, &a.plan) {
            (Some(m), _) => Some(m.clone()),
            (None, Some(plan)) => {
                let header = crate::plan::file::read_header(plan).ok()?;
                apply::recorded_manifest(plan, &header.manifest.path).ok()
            }
            (None, None) => Some(PathBuf::from("migration.toml")),
        },
        _ => None,
    }
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    crate::printer::init_color(cli.global.color);
    let global = cli.global;
    match cli.command {
        Command::Validate(args) => validate::run(&args, &global),
        Command::Plan(args) => plan::run(args, &global).await,
        Command::Apply(args) => apply::run(args, &global).await,
        Command::Show(args) => show::run(&args, &global),
        Command::Pin(args) => pin::run(&args, &global),
        Command::Verify(args) => verify::run(args, &global).await,
        Command::Emulator(args) => emulator::run(args).await,
        Command::Auth0(args) => {
            provider::run(provider::ProviderCommand::Auth0(args), &global).await
        }
        Command::Clerk(args) => {
            provider::run(provider::ProviderCommand::Clerk(args), &global).await
        }
        Command::FirebaseAuth(args) => {
            provider::run(provider::ProviderCommand::Firebase(args), &global).await
        }
        Command::Cognito(args) => {
            provider::run(provider::ProviderCommand::Cognito(args), &global).await
        }
        Command::Completions(args) => docs::completions(&args),
        Command::Man => docs::man(),
    }
}
