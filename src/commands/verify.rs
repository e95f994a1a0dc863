//! `avnology-migrate verify`: after apply, check that counts reconcile, the plan is empty,
//! and test logins succeed through the login flow.

use std::path::PathBuf;

use anyhow::Context as _;

use super::{output, target};
use crate::cli::GlobalArgs;
use crate::error::Exit;
use crate::live::LoginOutcome;
use crate::plan::{Action, BuildOptions, ObjectKind};
use crate::render::escape::terminal;

/// Check that the tenant matches the manifest and that test users can log in.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The manifest.
    #[arg(short, long, default_value = "migration.toml")]
    pub manifest: PathBuf,
    /// A CSV with the header `identifier,password`; every row must log in.
    #[arg(long)]
    pub logins: Option<PathBuf>,
}

/// Runs `verify`.
pub async fn run(args: VerifyArgs, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let manifest = crate::manifest::load(&args.manifest)?;
    let conn = target::connect(&manifest, global).await?;
    let mut live = target::read_live(&conn.client, manifest.target.organization.as_deref()).await?;
    let options = BuildOptions {
        count_only: true,
        ..BuildOptions::default()
    };
    let built = target::build_plan(&manifest, &mut live, options)?;
    let plan = &built.plan;
    let mut ok = true;
    let mut lines = Vec::new();

    // Identities only: clients have no logins and are checked by the empty plan.
    let identity_changes: u64 = plan
        .footer
        .groups
        .iter()
        .filter(|g| g.kind == ObjectKind::Identity && g.action != Action::Delete)
        .map(|g| g.count)
        .sum();
    let summary = plan.summary();
    let declared = summary.no_op - summary.clients.no_op + identity_changes;
    let names: Vec<&str> = manifest.users.iter().map(|u| u.name.as_str()).collect();
    let owned: u64 = names
        .iter()
        .filter_map(|n| live.identities.owned_by_source.get(*n))
        .sum();
    let counts_ok = plan.is_empty() && declared == owned;
    ok &= counts_ok;
    let (skipped_users, invalid_users) = plan
        .footer
        .tallies
        .iter()
        .filter(|t| names.contains(&t.source.as_str()))
        .fold((0, 0), |(s, i), t| (s + t.skipped, i + t.invalid));
    lines.push(format!(
        "{} counts: {} user records: {declared} to migrate, {skipped_users} skipped, {invalid_users} invalid; {owned} migrated identities in the tenant",
        mark(counts_ok),
        summary.source_records,
    ));
    lines.push(format!(
        "{} plan: {}",
        mark(plan.is_empty()),
        if plan.is_empty() {
            "no changes".to_string()
        } else {
            format!("{} change(s) pending", plan.total_changes())
        }
    ));

    if let Some(path) = &args.logins {
        let mut reader = csv::Reader::from_path(path)
            .with_context(|| format!("cannot read logins file `{}`", path.display()))?;
        let headers = reader.headers()?.clone();
        if headers.iter().collect::<Vec<_>>() != ["identifier", "password"] {
            anyhow::bail!(
                "{}: the header must be `identifier,password`",
                path.display()
            );
        }
        let (mut passed, mut total) = (0, 0);
        for (i, row) in reader.records().enumerate() {
            let row = row.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
            let (identifier, password) = (&row[0], &row[1]);
            total += 1;
            match conn.client.login(identifier, password).await? {
                LoginOutcome::Success { .. } => passed += 1,
                LoginOutcome::Rejected { code, message } => {
                    ok = false;
                    // The identifier is the logins file's and the rest the server's: escaped,
                    // so each failure stays one line.
                    lines.push(format!(
                        "{} login `{}` ({}:{}): {} {}",
                        mark(false),
                        terminal(identifier),
                        terminal(&path.display().to_string()),
                        i + 2,
                        terminal(&code),
                        terminal(&message)
                    ));
                }
            }
        }
        lines.push(format!(
            "{} logins: {passed} of {total} succeeded",
            mark(passed == total)
        ));
    }
    output::stdout(&(lines.join("\n") + "\n"))?;
    if let Some(s) = conn.sandbox {
        let _ = s.shutdown().await;
    }
    Ok(if ok { Exit::Success } else { Exit::Failure })
}

fn mark(ok: bool) -> &'static str {
    if ok { "ok  " } else { "FAIL" }
}
