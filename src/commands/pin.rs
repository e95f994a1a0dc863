//! `avnology-migrate pin`: writes each source file's SHA-256 into the manifest (`sha256`,
//! `passwords_sha256`), so `validate` and `plan` refuse any other file before reading it, and
//! a new export shows up in a pull request as a one-line manifest diff. The manifest is
//! edited in place with its comments and layout kept.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::cli::GlobalArgs;
use crate::error::{Exit, with_hint};
use crate::plan::file::sha256_path;
use crate::printer;
use crate::render::escape::terminal;

/// Pin every source file of the manifest to its current SHA-256.
#[derive(Debug, clap::Args)]
pub struct PinArgs {
    /// The manifest (TOML).
    #[arg(short, long, default_value = "migration.toml")]
    pub manifest: PathBuf,
    /// Only report which pins are missing or differ; change nothing (exit 2 if any would).
    #[arg(long)]
    pub check: bool,
}

/// Runs `pin`.
pub fn run(args: &PinArgs, _global: &GlobalArgs) -> anyhow::Result<Exit> {
    if matches!(
        args.manifest.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    ) {
        return Err(with_hint(
            anyhow::anyhow!(
                "`{}` is YAML: `pin` edits TOML manifests only",
                args.manifest.display()
            ),
            "add `sha256: <digest>` to each source by hand (`sha256sum FILE` gives it)",
        ));
    }
    let manifest = crate::manifest::load(&args.manifest)?;
    let text = std::fs::read_to_string(&args.manifest)
        .with_context(|| format!("cannot read `{}`", args.manifest.display()))?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("`{}` is not TOML", args.manifest.display()))?;
    let digest = |p: &std::path::Path| {
        sha256_path(p).with_context(|| format!("cannot read `{}`", p.display()))
    };

    // (table array, index, key, source name, file, digest now)
    let mut pins = Vec::new();
    for (i, source) in manifest.users.iter().enumerate() {
        pins.push((
            "users",
            i,
            "sha256",
            &source.name,
            source.path.clone(),
            digest(&source.path)?,
        ));
        if let Some(p) = &source.passwords {
            pins.push((
                "users",
                i,
                "passwords_sha256",
                &source.name,
                p.clone(),
                digest(p)?,
            ));
        }
    }
    for (i, source) in manifest.client_sources.iter().enumerate() {
        pins.push((
            "client_sources",
            i,
            "sha256",
            &source.name,
            source.path.clone(),
            digest(&source.path)?,
        ));
    }

    let mut changed = 0;
    for (array, i, key, name, path, sha256) in &pins {
        let table = doc
            .get_mut(array)
            .and_then(toml_edit::Item::as_array_of_tables_mut)
            .and_then(|t| t.get_mut(*i))
            .with_context(|| format!("[[{array}]] entry {} is not a table", i + 1))?;
        let before = table
            .get(key)
            .and_then(toml_edit::Item::as_str)
            .map(str::to_string);
        if before.as_deref() == Some(sha256.as_str()) {
            continue;
        }
        changed += 1;
        printer::status(&format!(
            "{} source `{}`: {} {} {}",
            if before.is_some() {
                "re-pinned"
            } else {
                "pinned"
            },
            terminal(name),
            terminal(&path.display().to_string()),
            key,
            sha256
        ));
        table.insert(key, toml_edit::value(sha256.as_str()));
    }
    if changed == 0 {
        printer::status(&format!(
            "Every source file of `{}` is pinned to its current SHA-256.",
            terminal(&args.manifest.display().to_string())
        ));
        return Ok(Exit::Success);
    }
    if args.check {
        printer::status(&format!(
            "{changed} pin(s) missing or out of date; nothing was written."
        ));
        return Ok(Exit::Changes);
    }
    std::fs::write(&args.manifest, doc.to_string())
        .with_context(|| format!("cannot write `{}`", args.manifest.display()))?;
    printer::status(&format!(
        "Wrote {changed} pin(s) to `{}`. Plans made before this need making again (the manifest changed).",
        terminal(&args.manifest.display().to_string())
    ));
    Ok(Exit::Success)
}
