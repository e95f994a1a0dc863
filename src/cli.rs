//! The command line: global flags and one subcommand per verb. Argument structs live with
//! their command in [`crate::commands`]; doc comments here are the `--help` text.

use clap::{Parser, Subcommand, ValueEnum};

use crate::commands;

/// Migrate users, OAuth clients and redirect URIs into Avnology ID, the way Terraform moves
/// infrastructure: `validate`, `plan`, then `apply`.
#[derive(Debug, Parser)]
#[command(name = "avnology-migrate", version, about, max_term_width = 100)]
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
}
