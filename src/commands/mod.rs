//! One file per verb: the clap argument struct and the glue that calls into the library.

pub mod emulator;

use crate::cli::{Cli, Command};
use crate::error::Exit;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    match cli.command {
        Command::Emulator(args) => emulator::run(args).await,
    }
}
