//! `avnology-migrate verify`: after apply, check that counts reconcile, the plan is empty,
//! and test logins succeed through the login flow.

use std::path::PathBuf;

use anyhow::Context as _;

use super::{output, target};
use crate::cli::GlobalArgs;
use crate::diff::OWNER_KEY;
use crate::error::Exit;
use crate::live::LoginOutcome;
use crate::plan::{self, BuildOptions};

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
    let conn = target::connect(&manifest, global.verbose).await?;
    let live = target::read_live(&conn.client, manifest.target.organization.as_deref()).await?;
    let (plan, _) = plan::build(&manifest, &live, BuildOptions::default())?;
    let mut ok = true;
    let mut lines = Vec::new();

    // Identities only: clients have no logins and are checked by the empty plan.
    let identity_changes = plan
        .changes
        .iter()
        .filter(|c| {
            c.kind == crate::plan::ObjectKind::Identity && c.action != crate::plan::Action::Delete
        })
        .count() as u64;
    let declared = plan.summary.no_op - plan.summary.clients.no_op + identity_changes;
    let names: Vec<&str> = manifest.users.iter().map(|u| u.name.as_str()).collect();
    let owned = live
        .identities
        .values()
        .filter(|i| {
            i.admin_metadata
                .get(OWNER_KEY)
                .and_then(|m| m.get("source"))
                .and_then(|s| s.as_str())
                .is_some_and(|s| names.contains(&s))
        })
        .count() as u64;
    let counts_ok = plan.is_empty() && declared == owned;
    ok &= counts_ok;
    let skipped_users = plan
        .skipped
        .iter()
        .filter(|r| names.contains(&r.source.as_str()))
        .count();
    let invalid_users = plan
        .invalid
        .iter()
        .filter(|r| names.contains(&r.source.as_str()))
        .count();
    lines.push(format!(
        "{} counts: {} user records: {declared} to migrate, {skipped_users} skipped, {invalid_users} invalid; {owned} migrated identities in the tenant",
        mark(counts_ok),
        plan.summary.source_records,
    ));
    lines.push(format!(
        "{} plan: {}",
        mark(plan.is_empty()),
        if plan.is_empty() {
            "no changes".to_string()
        } else {
            format!("{} change(s) pending", plan.changes.len())
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
                    lines.push(format!(
                        "{} login `{identifier}` ({}:{}): {code} {message}",
                        mark(false),
                        path.display(),
                        i + 2
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
