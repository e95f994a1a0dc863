//! `avnology-migrate emulator`: run the local Avnology admin API.

use crate::error::Exit;

/// Run a local Avnology ID admin API (SQLite-backed) for rehearsals and tests.
#[derive(Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: String,
}

/// Runs the emulator until interrupted.
pub async fn run(_args: EmulatorArgs) -> anyhow::Result<Exit> {
    anyhow::bail!("the emulator is not built yet")
}
