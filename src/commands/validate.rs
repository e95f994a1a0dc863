//! `avnology-migrate validate`: offline checks of the manifest and every source record.

use std::path::PathBuf;

use super::target;
use crate::cli::GlobalArgs;
use crate::error::Exit;
use crate::plan::{BuildOptions, LiveState};
use crate::printer;
use crate::render::validate_report;

pub use crate::render::validate_report::{
    REPORT_VERSION, RecordReport, ReportTotals, SourceReport, ValidateReport, json_schema,
};

/// Check the manifest and every source record without touching the network.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The manifest.
    #[arg(short, long, default_value = "migration.toml")]
    pub manifest: PathBuf,
    /// Output format: `text`, or `json` (one document of `schemas/validate-report.schema.json`
    /// on stdout: counts per source, skipped and invalid records with file, line, external id
    /// and reason, the password report; exit 1 when the manifest is not valid).
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
}

/// `validate --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateFormat {
    /// A report for people.
    Text,
    /// A JSON document (`schemas/validate-report.schema.json`).
    Json,
}

/// Runs `validate`.
pub fn run(args: &ValidateArgs, _global: &GlobalArgs) -> anyhow::Result<Exit> {
    let manifest = crate::manifest::load(&args.manifest)?;
    // Planning against an empty tenant reads and checks every record with no network.
    let options = BuildOptions {
        count_only: true,
        keep_invalid: args.format == ValidateFormat::Json,
        ..BuildOptions::default()
    };
    let built = target::build_plan(&manifest, &mut LiveState::default(), options)?;
    if args.format == ValidateFormat::Json {
        let report = validate_report::report(&manifest, &built);
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        printer::stdout_bytes(text.as_bytes())?;
        return Ok(if report.valid {
            Exit::Success
        } else {
            Exit::Failure
        });
    }
    printer::stdout(&validate_report::text(&manifest, &built))?;
    Ok(Exit::Success)
}
