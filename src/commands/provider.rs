//! `avnology-migrate auth0|clerk|firebase-auth|cognito --import FILE [--dry-run]`: the command
//! shape of Avnology's own migration guides. The flags become a one-source manifest in
//! memory (target from `AVNOLOGY_API_URL` or `--url`), which is then planned (`--dry-run`)
//! or planned and applied, exactly as `plan` and `apply --auto-approve` would.

use std::path::PathBuf;

use anyhow::Context as _;

use super::apply::{self, ApplyArgs};
use super::{PaceArgs, target};
use crate::cli::GlobalArgs;
use crate::env_vars;
use crate::error::{Exit, with_hint};
use crate::manifest::raw::{Provider, RawFirebaseHash, RawManifest, RawTarget, RawUserSource};
use crate::plan::BuildOptions;
use crate::printer;
use crate::render::text::{self, TextOptions};

/// The environment variable the Firebase signer key is read from when `--hash-key-file` is
/// not given. The key is never taken as a command-line value, which would show in process
/// lists and shell history.
pub const FIREBASE_SIGNER_KEY: &str = "FIREBASE_SIGNER_KEY";

/// Flags every provider command takes.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The users export to import.
    #[arg(long = "import", value_name = "FILE")]
    pub import: PathBuf,
    /// Show what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The organization to place users in (created if missing).
    #[arg(long)]
    pub organization: Option<String>,
    /// The Avnology API URL, or `sandbox` (default: AVNOLOGY_API_URL, then the public API).
    #[arg(long)]
    pub url: Option<String>,
    /// Where minted secrets go (not needed for users-only imports).
    #[arg(long, value_name = "FILE")]
    pub secrets_out: Option<PathBuf>,
    /// Concurrency, pace and the log.
    #[command(flatten)]
    pub pace: PaceArgs,
}

/// `auth0`: import an Auth0 users export (NDJSON or JSON array, optionally gzipped).
#[derive(Debug, clap::Args)]
pub struct Auth0Args {
    /// Common flags.
    #[command(flatten)]
    pub import: ImportArgs,
    /// The support-ticket password-hash export (NDJSON) to join to the users.
    #[arg(long)]
    pub passwords: Option<PathBuf>,
}

/// `clerk`: import a Clerk users export (dashboard CSV or JSON).
#[derive(Debug, clap::Args)]
pub struct ClerkArgs {
    /// Common flags.
    #[command(flatten)]
    pub import: ImportArgs,
}

/// `cognito`: import `aws cognito-idp list-users` output.
#[derive(Debug, clap::Args)]
pub struct CognitoArgs {
    /// Common flags.
    #[command(flatten)]
    pub import: ImportArgs,
}

/// `firebase-auth`: import a `firebase auth:export` file (JSON or CSV) with the project's
/// password hash parameters.
#[derive(Debug, clap::Args)]
pub struct FirebaseArgs {
    /// Common flags.
    #[command(flatten)]
    pub import: ImportArgs,
    /// A file holding `base64_signer_key` (default: the FIREBASE_SIGNER_KEY environment
    /// variable). Without either, password hashes are not imported and those users must reset.
    #[arg(long, value_name = "FILE")]
    pub hash_key_file: Option<PathBuf>,
    /// Refused: a key on the command line shows in process lists and shell history. Kept so
    /// the refusal can say what to use instead.
    #[arg(long, hide = true, value_name = "KEY")]
    pub hash_key: Option<String>,
    /// `base64_salt_separator`.
    #[arg(long, default_value = "Bw==")]
    pub salt_separator: String,
    /// `rounds`.
    #[arg(long, default_value_t = 8)]
    pub rounds: u32,
    /// `mem_cost`.
    #[arg(long, default_value_t = 14)]
    pub mem_cost: u32,
}

/// Which provider command ran.
#[derive(Debug)]
pub enum ProviderCommand {
    /// `auth0`.
    Auth0(Auth0Args),
    /// `clerk`.
    Clerk(ClerkArgs),
    /// `firebase-auth`.
    Firebase(FirebaseArgs),
    /// `cognito`.
    Cognito(CognitoArgs),
}

/// The placeholder the signer key travels through, so it never appears in manifest text.
const SIGNER_KEY_VAR: &str = "AVNOLOGY_MIGRATE_IMPORT_SIGNER_KEY";

/// Runs a provider command.
pub async fn run(command: ProviderCommand, global: &GlobalArgs) -> anyhow::Result<Exit> {
    let (provider, name, common, passwords, firebase) = match &command {
        ProviderCommand::Auth0(a) => (
            Provider::Auth0,
            "auth0",
            &a.import,
            a.passwords.clone(),
            None,
        ),
        ProviderCommand::Clerk(a) => (Provider::Clerk, "clerk", &a.import, None, None),
        ProviderCommand::Cognito(a) => (Provider::Cognito, "cognito", &a.import, None, None),
        ProviderCommand::Firebase(a) => {
            let key = firebase_signer_key(a)?;
            let hash = key.map(|k| {
                (
                    k,
                    RawFirebaseHash {
                        signer_key: format!("${{env:{SIGNER_KEY_VAR}}}"),
                        salt_separator: a.salt_separator.clone(),
                        rounds: a.rounds,
                        mem_cost: a.mem_cost,
                    },
                )
            });
            (Provider::Firebase, "firebase", &a.import, None, hash)
        }
    };
    let signer_key = firebase.as_ref().map(|(k, _)| k.clone());
    // The guides' commands default to the public API, as Avnology's own tool does.
    let url = common
        .url
        .clone()
        .or_else(|| std::env::var(env_vars::AVNOLOGY_API_URL).ok())
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| env_vars::DEFAULT_API_URL.to_string());
    let raw = RawManifest {
        target: RawTarget {
            url: Some(url),
            organization: common.organization.clone(),
            service_account_owner: None,
        },
        users: vec![RawUserSource {
            name: name.to_string(),
            provider,
            path: common.import.display().to_string(),
            passwords: passwords.map(|p| p.display().to_string()),
            firebase_hash: firebase.map(|(_, h)| h),
            sha256: None,
            passwords_sha256: None,
        }],
        ..RawManifest::default()
    };
    let text = toml::to_string(&raw)?;
    let env = |n: &str| {
        if n == SIGNER_KEY_VAR {
            signer_key.clone()
        } else {
            std::env::var(n).ok()
        }
    };
    let manifest = crate::manifest::parse(
        std::path::Path::new(crate::manifest::COMMAND_LINE),
        &text,
        &env,
    )?;
    if common.dry_run {
        let conn = target::connect(&manifest, global).await?;
        let mut live =
            target::read_live(&conn.client, manifest.target.organization.as_deref()).await?;
        let options = BuildOptions {
            count_only: true,
            ..BuildOptions::default()
        };
        let plan = target::build_plan(&manifest, &mut live, options)?.plan;
        printer::stdout(&text::render(
            &plan,
            TextOptions {
                color: true,
                ..Default::default()
            },
        ))?;
        printer::status("Dry run: nothing was changed.");
        if let Some(s) = conn.sandbox {
            let _ = s.shutdown().await;
        }
        return Ok(Exit::Success);
    }
    let args = ApplyArgs {
        auto_approve: true,
        pace: common.pace.clone(),
        secrets_out: common.secrets_out.clone(),
        ..ApplyArgs::default()
    };
    apply::apply_manifest(&args, &manifest, global).await
}

/// The Firebase signer key from `--hash-key-file` or FIREBASE_SIGNER_KEY; `--hash-key KEY` is
/// refused before anything is read or sent.
fn firebase_signer_key(args: &FirebaseArgs) -> anyhow::Result<Option<String>> {
    if args.hash_key.is_some() {
        return Err(with_hint(
            anyhow::anyhow!(
                "--hash-key is not accepted: a key on the command line shows in process lists and shell history; nothing was imported"
            ),
            format!(
                "put the key in a file and pass --hash-key-file FILE, or export {FIREBASE_SIGNER_KEY}"
            ),
        ));
    }
    match &args.hash_key_file {
        Some(path) => {
            let key = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the signer key file `{}`", path.display()))?;
            let key = key.trim();
            if key.is_empty() {
                anyhow::bail!("the signer key file `{}` is empty", path.display());
            }
            Ok(Some(key.to_string()))
        }
        None => Ok(std::env::var(FIREBASE_SIGNER_KEY)
            .ok()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())),
    }
}
