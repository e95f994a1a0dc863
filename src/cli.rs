//! The command line: global flags and one subcommand per verb. Argument structs live with
//! their command in [`crate::commands`]; doc comments here are the `--help` text.

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands;

/// Migrate users, OAuth clients and redirect URIs into Avnology ID, the way Terraform moves
/// infrastructure: `validate`, `plan`, then `apply`.
#[derive(Debug, Parser)]
#[command(
    name = "avnology-migrate",
    version,
    about,
    max_term_width = 100,
    after_help = "Environment: AVNOLOGY_SECRET_KEY (the tenant's admin API key) and AVNOLOGY_API_URL (when the manifest names no url). A .env file is read from the working folder and from the manifest's folder only (never a parent folder); variables already set win, and the working folder's .env wins over the manifest folder's.\n\nShell completions: `avnology-migrate completions bash|zsh|fish|powershell|elvish`; the manual page: `avnology-migrate man`."
)]
pub struct Cli {
    /// Global options.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// When to use colour: auto (a terminal and no NO_COLOR), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Log each API request (method, path, status, attempt) to stderr. Secrets are never
    /// logged.
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
    /// Give up when the Avnology API has not answered for this long (no response, or only
    /// 502/503/504), e.g. `90s`, `5m`: `apply` stops with its journal saved for a resume,
    /// `plan` fails. Each request waits at most this long too.
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = crate::env_vars::AVNOLOGY_GIVE_UP_AFTER,
        default_value = "60s",
        value_parser = parse_duration
    )]
    pub give_up_after: std::time::Duration,
}

/// Parses a duration: a positive number with a unit, `ms`, `s`, `m` or `h` (`s` if none),
/// e.g. `60s`, `1.5m`, `500ms`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale = match unit.trim() {
        "ms" => 0.001,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (use ms, s, m or h)"
            ));
        }
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 && n * scale <= 1e9 => {
            Ok(std::time::Duration::from_secs_f64(n * scale))
        }
        _ => Err(format!(
            "`{text}` is not a duration: give a positive number with a unit, e.g. 60s or 5m"
        )),
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal unless NO_COLOR is set.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the manifest and every source record, offline.
    Validate(commands::validate::ValidateArgs),
    /// Show what apply would change (reads sources and the live tenant; changes nothing).
    Plan(commands::plan::PlanArgs),
    /// Apply a saved plan exactly, or plan, confirm and apply.
    Apply(commands::apply::ApplyArgs),
    /// Render a saved plan.
    Show(commands::show::ShowArgs),
    /// Pin every source file to its SHA-256 in the manifest (`sha256 = "…"`).
    Pin(commands::pin::PinArgs),
    /// Check counts, the empty plan and test logins after apply.
    Verify(commands::verify::VerifyArgs),
    /// Run a local Avnology admin API for rehearsals and tests.
    Emulator(commands::emulator::EmulatorArgs),
    /// Import an Auth0 users export (Avnology's guide command shape).
    Auth0(commands::provider::Auth0Args),
    /// Import a Clerk users export (Avnology's guide command shape).
    Clerk(commands::provider::ClerkArgs),
    /// Import a Firebase Auth export (Avnology's guide command shape).
    FirebaseAuth(commands::provider::FirebaseArgs),
    /// Import `aws cognito-idp list-users` output.
    Cognito(commands::provider::CognitoArgs),
    /// Print a shell completion script for this command line on stdout.
    Completions(commands::docs::CompletionsArgs),
    /// Print the manual page (roff, section 1) on stdout: every command and option.
    Man,
}
