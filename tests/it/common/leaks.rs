//! The shared leak scan: every CLI run through a [`super::Workdir`] is recorded (its stdout
//! and stderr, the files it wrote in the work dir, the emulator it talked to), and when the
//! work dir is dropped every recorded text is searched for every secret the test handed the
//! tool or the tool made: the admin API key, password hashes and salts, the Firebase signer
//! key, source client secrets, and the client secrets and API keys the emulator minted.
//!
//! Secrets are found by what holds them, not by a list each test keeps: the fixture files
//! the test put in the work dir (values under keys such as `passwordHash` or `salt`, the
//! Firebase CSV's hash columns, `signer_key` in a manifest, secret-named `.env` entries, a
//! `--hash-key-file`), secret-named environment variables, and the emulators' idempotency
//! records (which keep each create's response, minted secret included, for replays).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::Value;

/// Shorter values are not treated as secrets: a `salt_separator` such as `Bw==` or a flag
/// value like `1` would match by chance.
const MIN_SECRET_LEN: usize = 8;

/// Keys (lowercase, `_` and `-` removed) whose string values are secrets, in any JSON or
/// NDJSON input and in the `--secrets-out` file.
const SECRET_KEYS: &[&str] = &[
    "passwordhash",
    "passwordsalt",
    "salt",
    "passworddigest",
    "clientsecret",
    "apikey",
    "signerkey",
    "base64signerkey",
    "totpsecret",
    "secret",
];

/// Flags whose value is a file holding a secret.
const SECRET_FILE_FLAGS: &[&str] = &["--hash-key-file"];

/// Directories that are never scanned or read for inputs: a git checkout's object store
/// (compressed, and large), and the sandbox's own Avnology database, which holds password
/// hashes by design, as the real Avnology does.
const SKIPPED_DIRS: &[&str] = &[".git", ".avnology-sandbox"];

/// One command's output.
struct Run {
    /// The command line, for the failure message.
    what: String,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// The emulator a command talked to.
#[derive(Clone)]
pub struct EmulatorView {
    /// Its admin key.
    pub api_key: String,
    /// Its database, read for minted secrets once the command is done.
    pub db: PathBuf,
    /// Its log.
    pub log: Arc<Mutex<String>>,
}

/// One command line, as the scan needs it.
pub struct Invocation {
    /// The work dir.
    pub root: PathBuf,
    /// Where it runs (relative arguments are taken from there).
    pub cwd: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The environment it was given.
    pub envs: Vec<(String, String)>,
    /// The emulator it talks to.
    pub emu: Option<EmulatorView>,
}

/// What the commands run through one work dir did, for the scan.
#[derive(Default)]
pub struct Record {
    runs: Vec<Run>,
    /// Secrets known when a command ran: its secret-named environment, its emulator's key
    /// and what the emulator had minted by the time it finished (its database may be gone
    /// by the time the work dir is dropped).
    secrets: BTreeSet<String>,
    /// Files a command created or changed.
    written: BTreeSet<PathBuf>,
    /// Files that hold secrets by design, named by the command that wrote them (see
    /// [`excluded`]).
    secrets_out: BTreeSet<PathBuf>,
    /// Files outside the work dir a command was pointed at (fixtures read in place).
    inputs: BTreeSet<PathBuf>,
    logs: Vec<Arc<Mutex<String>>>,
    /// Set once the scan ran, so an explicit scan and the one on drop do not repeat.
    scanned: bool,
}

/// Size and modification time of every file under a directory.
pub type Snapshot = BTreeMap<PathBuf, (u64, Option<SystemTime>)>;

/// Lists the files under `root` (see [`SKIPPED_DIRS`]).
pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    walk(root, &mut |p, meta| {
        out.insert(p.to_path_buf(), (meta.len(), meta.modified().ok()));
    });
    out
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            let name = entry.file_name();
            if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                walk(&path, f);
            }
        } else if meta.is_file() {
            f(&path, &meta);
        }
    }
}

impl Record {
    /// Records one finished command, the work dir looking like `before` when it started.
    pub fn command(&mut self, run: &Invocation, before: &Snapshot, out: &std::process::Output) {
        let Invocation {
            root,
            cwd,
            args,
            envs,
            emu,
        } = run;
        self.runs.push(Run {
            what: args.join(" "),
            stdout: out.stdout.clone(),
            stderr: out.stderr.clone(),
        });
        for (name, value) in envs {
            let upper = name.to_uppercase();
            if ["KEY", "SECRET", "PASSWORD", "TOKEN"]
                .iter()
                .any(|w| upper.contains(w))
            {
                self.add_secret(value);
            }
        }
        for (name, value) in args.iter().zip(args.iter().skip(1)) {
            let path = cwd.join(value);
            if name == "--secrets-out" {
                self.secrets_out.insert(path);
            } else if SECRET_FILE_FLAGS.contains(&name.as_str())
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                self.add_secret(text.trim());
            }
        }
        for arg in args {
            let path = cwd.join(arg);
            if !path.starts_with(root) && path.is_file() {
                self.inputs.insert(path);
            }
        }
        if let Some(emu) = emu {
            self.add_secret(&emu.api_key);
            for s in minted(&emu.db) {
                self.add_secret(&s);
            }
            if !self.logs.iter().any(|l| Arc::ptr_eq(l, &emu.log)) {
                self.logs.push(emu.log.clone());
            }
        }
        for (path, stamp) in snapshot(root) {
            if before.get(&path) != Some(&stamp) {
                self.written.insert(path);
            }
        }
    }

    fn add_secret(&mut self, s: &str) {
        if s.len() >= MIN_SECRET_LEN {
            self.secrets.insert(s.to_string());
        }
    }

    /// Fails the test if any secret appears in a command's output, a file a command wrote
    /// (minus [`excluded`]) or an emulator's log. Runs once.
    pub fn scan(&mut self, root: &Path) {
        if self.scanned || self.runs.is_empty() {
            return;
        }
        self.scanned = true;
        let secrets = self.all_secrets(root);
        let mut texts: Vec<(String, String)> = Vec::new();
        for run in &self.runs {
            texts.push((
                format!("the stdout of `{}`", run.what),
                String::from_utf8_lossy(&run.stdout).into_owned(),
            ));
            texts.push((
                format!("the stderr of `{}`", run.what),
                String::from_utf8_lossy(&run.stderr).into_owned(),
            ));
        }
        for path in &self.written {
            if excluded(path, &self.secrets_out) {
                continue;
            }
            if let Ok(bytes) = std::fs::read(path) {
                texts.push((
                    format!("the file `{}`", path.display()),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
        for log in &self.logs {
            texts.push(("the emulator's log".into(), log.lock().unwrap().clone()));
        }
        for (what, text) in &texts {
            for secret in &secrets {
                if let Some(at) = text.find(secret.as_str()) {
                    panic!(
                        "a secret leaked into {what}: `{secret}` in …{}…",
                        around(text, at, secret.len())
                    );
                }
            }
        }
    }

    /// Every secret: those recorded per command, those in the fixtures the test put in the
    /// work dir or pointed a command at, and those in the `--secrets-out` files.
    fn all_secrets(&self, root: &Path) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut inputs: Vec<PathBuf> = self.inputs.iter().cloned().collect();
        walk(root, &mut |p, _| {
            // A file a command wrote is scanned, not trusted as a source of secrets (a leak
            // into it would otherwise excuse itself), unless it holds secrets by design.
            if !self.written.contains(p) || self.secrets_out.contains(p) {
                inputs.push(p.to_path_buf());
            }
        });
        for sandbox in sandbox_dbs(root) {
            found.extend(minted(&sandbox));
        }
        for path in inputs {
            secrets_in_file(&path, &mut found);
        }
        found.extend(self.secrets.iter().cloned());
        found.retain(|s| s.len() >= MIN_SECRET_LEN);
        found
    }
}

/// Whether `path` holds secrets by design and is left out of the scan: a `--secrets-out`
/// file (the one place minted secrets go), recognised by the header the tool writes first,
/// so a test that names the plan as `--secrets-out` to see it refused still has the plan
/// scanned. Exports (the test's fixtures) are never scanned, as no command writes them; the
/// sandbox's database is skipped with its directory ([`SKIPPED_DIRS`]).
fn excluded(path: &Path, secrets_out: &BTreeSet<PathBuf>) -> bool {
    if !secrets_out.contains(path) {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let header = text
        .lines()
        .next()
        .and_then(|l| serde_json::from_str::<Value>(l).ok());
    header.is_some_and(|h| {
        h.as_object().is_some_and(|o| o.len() == 2)
            && h["kind"] == "plan"
            && h["plan_id"].is_string()
    })
}

/// The sandbox databases under `root` (`.avnology-sandbox/sandbox.db`, wherever the
/// manifest sits).
fn sandbox_dbs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name() == ".avnology-sandbox" {
                out.push(path.join("sandbox.db"));
            } else if path.is_dir() && entry.file_name() != ".git" {
                dirs.push(path);
            }
        }
    }
    out
}

/// The client secrets and API keys an emulator minted, from the responses it keeps for
/// idempotent replays. Nothing if the database is gone or not an emulator's.
pub fn minted(db: &Path) -> Vec<String> {
    if !db.is_file() {
        return Vec::new();
    }
    let Ok(conn) =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return Vec::new();
    };
    let Ok(mut stmt) = conn.prepare("SELECT body FROM idempotency_keys") else {
        return Vec::new();
    };
    let Ok(rows) = stmt.query_map([], |r| r.get::<_, String>(0)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for body in rows.flatten() {
        let Ok(v) = serde_json::from_str::<Value>(&body) else {
            continue;
        };
        for field in ["client_secret", "key"] {
            // `key` is a minted API key only beside the key record's `prefix`.
            if field == "key" && v.get("prefix").is_none() {
                continue;
            }
            if let Some(s) = v.get(field).and_then(Value::as_str) {
                out.push(s.to_string());
            }
        }
    }
    out
}

/// Adds the secrets a fixture file holds to `out`, by its kind.
fn secrets_in_file(path: &Path, out: &mut BTreeSet<String>) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    // `.env` has no extension (a dot file); `prod.env` has `env`.
    let kind = if name == ".env" {
        "env".to_string()
    } else {
        path.extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default()
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    match kind.as_str() {
        "env" => {
            for line in text.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    let k = k.trim().trim_start_matches("export ").to_uppercase();
                    if ["KEY", "SECRET", "PASSWORD", "TOKEN"]
                        .iter()
                        .any(|w| k.contains(w))
                    {
                        out.insert(v.trim().trim_matches('"').trim_matches('\'').to_string());
                    }
                }
            }
        }
        // A literal signer key in a manifest (the examples take it from the environment).
        "toml" => {
            if let Ok(doc) = text.parse::<toml::Table>() {
                json_secrets(&serde_json::to_value(doc).unwrap_or_default(), out);
            }
        }
        "csv" => csv_secrets(&text, out),
        "json" | "ndjson" => {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                json_secrets(&v, out);
            } else {
                for line in text.lines() {
                    if let Ok(v) = serde_json::from_str::<Value>(line) {
                        json_secrets(&v, out);
                    }
                }
            }
        }
        "key" => {
            out.insert(text.trim().to_string());
        }
        _ => {}
    }
}

fn normalized(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .collect::<String>()
        .to_lowercase()
}

fn json_secrets(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                // `${env:NAME}` names where a secret comes from; it is not one.
                if let Value::String(s) = v
                    && SECRET_KEYS.contains(&normalized(k).as_str())
                    && !s.starts_with("${")
                {
                    out.insert(s.clone());
                }
                json_secrets(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| json_secrets(v, out)),
        _ => {}
    }
}

/// A CSV file's secret columns: named ones (Clerk's `password_digest`, a Firebase header's
/// `passwordHash`, the test-login file's plaintext `password`), or, in Firebase's headerless CSV, the hash and salt at columns 4 and 5.
fn csv_secrets(text: &str, out: &mut BTreeSet<String>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = reader.records().flatten();
    let Some(first) = rows.next() else { return };
    let named: Vec<usize> = first
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            let h = normalized(h);
            SECRET_KEYS.contains(&h.as_str()) || h == "password"
        })
        .map(|(i, _)| i)
        .collect();
    let has_header = first.iter().any(|h| {
        let h = normalized(h);
        h == "email" || h == "localid" || h.contains("emailaddress")
    });
    let columns = match (has_header, first.len()) {
        (true, _) => named,
        (false, 28..) => vec![3, 4],
        (false, _) => return,
    };
    let data: Vec<csv::StringRecord> = if has_header {
        rows.collect()
    } else {
        std::iter::once(first).chain(rows).collect()
    };
    for row in data {
        for &i in &columns {
            if let Some(v) = row.get(i) {
                out.insert(v.to_string());
            }
        }
    }
}

/// The text around a match, on one line, for the failure message.
fn around(text: &str, at: usize, len: usize) -> String {
    let mut start = at.saturating_sub(80);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + len + 80).min(text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    text[start..end].replace('\n', "⏎")
}
