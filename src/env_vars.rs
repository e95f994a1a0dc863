//! Every environment variable the tool reads, named once. Other modules refer to these
//! constants instead of spelling the names, so the list here is the complete contract.

/// Base URL of the Avnology admin API, used where the manifest names no `url` and by the
/// provider commands (which default to [`DEFAULT_API_URL`]; a manifest has no default).
pub const AVNOLOGY_API_URL: &str = "AVNOLOGY_API_URL";

/// The tenant's admin API key (`ak_live_…`, `ak_test_…` or `sk_live_…`), as Avnology's
/// migration guides name it. Never accepted on the command line or in the manifest.
pub const AVNOLOGY_SECRET_KEY: &str = "AVNOLOGY_SECRET_KEY";

/// Disables colour when set to any non-empty value (<https://no-color.org>).
pub const NO_COLOR: &str = "NO_COLOR";

/// How long the API may go without answering before `plan` and `apply` give up, as
/// `--give-up-after` takes it (e.g. `90s`); the flag wins.
pub const AVNOLOGY_GIVE_UP_AFTER: &str = "AVNOLOGY_GIVE_UP_AFTER";

/// Test hook: when set to `1`, retry delays are cut to a few milliseconds so fault tests run
/// fast. Never set in production.
pub const AVNOLOGY_MIGRATE_FAST_RETRY: &str = "AVNOLOGY_MIGRATE_FAST_RETRY";

/// The public Avnology ID API host: the provider commands' default target.
pub const DEFAULT_API_URL: &str = "https://api-id.avnology.net";

/// Reads `.env` in the working directory, if present, without overriding variables that are
/// already set in the real environment.
pub fn load_dotenv() {
    // dotenvy::dotenv never overrides existing variables; a missing file is not an error.
    let _ = dotenvy::dotenv();
}
