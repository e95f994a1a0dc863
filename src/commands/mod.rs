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

use crate::cli::{Cli, Command};
use crate::error::Exit;

/// The manifest a command reads, for finding the `.env` beside it: `-m` (or its default), or
/// for `apply PLAN` the manifest the plan records. `None` for commands without one.
pub fn manifest_of(command: &Command) -> Option<std::path::PathBuf> {
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
            (None, None) => Some(std::path::PathBuf::from("migration.toml")),
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
