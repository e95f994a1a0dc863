//! `avnology-migrate validate`: offline checks of the manifest and every source record.

use std::path::PathBuf;

use super::{output, target};
use crate::cli::GlobalArgs;
use crate::error::Exit;
use crate::plan::{BuildOptions, LiveState};
use crate::render::escape::terminal;

/// Check the manifest and every source record without touching the network.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The manifest.
    #[arg(short, long, default_value = "migration.toml")]
    pub manifest: PathBuf,
}

/// Runs `validate`.
pub async fn run(args: ValidateArgs, _global: &GlobalArgs) -> anyhow::Result<Exit> {
    let manifest = crate::manifest::load(&args.manifest)?;
    // Planning against an empty tenant reads and checks every record with no network.
    let options = BuildOptions {
        count_only: true,
        ..BuildOptions::default()
    };
    let built = target::build_plan(&manifest, &mut LiveState::default(), options)?;
    let plan = &built.plan;
    let tally = |name: &str| {
        plan.footer
            .tallies
            .iter()
            .find(|t| t.source == name)
            .cloned()
            .unwrap_or_default()
    };
    // Source names and paths are the manifest's own strings: escaped like export values.
    let mut text = format!(
        "Manifest {} is valid.\n",
        terminal(&manifest.path.display().to_string())
    );
    for source in &manifest.users {
        let t = tally(&source.name);
        text.push_str(&format!(
            "  source `{}` ({}): {} identities, {} skipped, {} invalid\n",
            terminal(&source.name),
            source.provider.as_str(),
            t.accepted,
            t.skipped,
            t.invalid
        ));
    }
    for source in &manifest.client_sources {
        let (mut clients, mut accounts) = (0, 0);
        for d in built
            .clients
            .clients
            .values()
            .filter(|d| d.source == source.name)
        {
            match d.decl {
                crate::model::ClientDecl::OAuth(_) => clients += 1,
                crate::model::ClientDecl::ServiceAccount(_) => accounts += 1,
            }
        }
        let t = tally(&source.name);
        text.push_str(&format!(
            "  client source `{}` ({}): {clients} OAuth clients, {accounts} service accounts, {} skipped, {} invalid\n",
            terminal(&source.name),
            source.provider.as_str(),
            t.skipped,
            t.invalid
        ));
    }
    if !manifest.clients.is_empty() {
        text.push_str(&format!(
            "  [[clients]]: {} OAuth clients\n",
            manifest.clients.len()
        ));
    }
    let rendered = crate::render::text::render(plan, Default::default());
    // The per-source password report and warnings, without the create listing.
    for line in rendered.lines().filter(|l| {
        l.starts_with("Passwords")
            || l.starts_with("warning:")
            || l.starts_with("  ! ")
            || l.starts_with("! ")
    }) {
        text.push_str(line);
        text.push('\n');
    }
    output::stdout(&text)?;
    Ok(Exit::Success)
}
