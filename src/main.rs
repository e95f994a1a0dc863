//! The `avnology-migrate` binary: parse, run, report once, exit with a meaningful code.

use std::process::ExitCode;

use clap::Parser;

use avnology_migrate::{cli::Cli, commands, env_vars, error};

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Usage errors exit 1 (not clap's 2, which means "changes present" here).
            let code = u8::from(e.use_stderr());
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return error::report(&e.into()).into(),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(exit) => exit.into(),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => error::report(&e).into(),
    }
}

/// Parses the command line, reads the `.env` files of the working directory and the
/// manifest's folder (known only once the arguments are parsed), and parses again when one
/// was read, so options that fall back to a variable see the variables it set.
fn parse() -> Result<Cli, clap::Error> {
    let cli = Cli::try_parse()?;
    let manifest = commands::manifest_of(&cli.command);
    if env_vars::load_dotenv(manifest.as_deref()) > 0 {
        Cli::try_parse()
    } else {
        Ok(cli)
    }
}

/// `avnology-migrate plan | head` must not print an error when `head` exits.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
