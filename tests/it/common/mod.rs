//! Test support: a running emulator process and a hermetic environment for CLI runs, whose
//! every run is scanned for leaked secrets when the work dir is dropped ([`leaks`]).

#![allow(dead_code)]

pub mod cmd;
pub mod leaks;
pub mod scripted;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_avnology-migrate"))
}

/// Path of a file in the repository.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A random admin key for one test's emulator.
pub fn random_key() -> String {
    format!("ak_test_{}", uuid::Uuid::new_v4().simple())
}

/// An emulator process listening on 127.0.0.1, killed on drop. Its stderr is collected so
/// tests can scan it for secrets.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The admin key it accepts (all scopes).
    pub api_key: String,
    /// Its SQLite database file.
    pub db: PathBuf,
    /// Everything it wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
    /// The directory of a database [`Emulator::start`] made, removed with it.
    tempdir: Option<tempfile::TempDir>,
}

impl Emulator {
    /// Starts an emulator with a fresh database and the given extra flags.
    pub fn start(extra: &[&str]) -> Emulator {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("emulator.db");
        let mut e = Self::start_with_db(&db, extra);
        e.tempdir = Some(dir);
        e
    }

    /// Starts an emulator on an existing (or new) database file.
    pub fn start_with_db(db: &Path, extra: &[&str]) -> Emulator {
        Self::start_on(db, "127.0.0.1:0", extra)
    }

    /// Starts an emulator on a database file and a given address (e.g. the address of one
    /// that was stopped, so a saved plan's tenant URL still matches).
    pub fn start_on(db: &Path, listen: &str, extra: &[&str]) -> Emulator {
        let api_key = random_key();
        let mut child = Command::new(bin())
            .args(["emulator", "--listen", listen, "--db"])
            .arg(db)
            .args(["--api-key", &api_key])
            .args(extra)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn emulator");
        let stderr = child.stderr.take().unwrap();
        let collected = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let collected = collected.clone();
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    collected.lock().unwrap().push_str(&line);
                    collected.lock().unwrap().push('\n');
                    if let Some(addr) = line.split("listening on ").nth(1)
                        && let Some(tx) = tx.take()
                    {
                        let _ = tx.send(addr.trim().to_string());
                    }
                }
            });
        }
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("emulator did not start: {}", collected.lock().unwrap()));
        Emulator {
            child,
            url,
            api_key,
            db: db.to_path_buf(),
            stderr: collected,
            tempdir: None,
        }
    }

    /// A blocking HTTP call to the emulator with the admin key, returning status and JSON.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        self.call_with(
            method,
            path,
            body,
            &[("authorization", &format!("Bearer {}", self.api_key))],
        )
    }

    /// Its stderr once `complete` holds for it. The log is read by a background thread, so a
    /// line about a request may arrive after the response: a scan of the log must first wait
    /// for the last line it is meant to cover. Fails the test after 10 seconds.
    pub fn log_when(&self, complete: impl Fn(&str) -> bool) -> String {
        let settled = wait_until(Duration::from_secs(10), || {
            complete(&self.stderr.lock().unwrap())
        });
        let log = self.stderr.lock().unwrap().clone();
        assert!(
            settled,
            "the emulator log never reached the expected point: {log}"
        );
        log
    }

    /// An end user's password login through the embedded login flow (no API key): opens a
    /// flow and submits the identifier and password. 200 when the password verifies.
    pub fn login(&self, identifier: &str, password: &str) -> (u16, serde_json::Value) {
        let (status, flow) = self.call_with("POST", "/v1/flows/login", None, &[]);
        assert_eq!(status, 201, "{flow}");
        let flow_id = flow["id"].as_str().unwrap();
        self.call_with(
            "POST",
            &format!("/v1/flows/login/{flow_id}:submit"),
            Some(serde_json::json!({
                "method": "password", "identifier": identifier, "password": password
            })),
            &[],
        )
    }

    /// A blocking HTTP call with explicit headers.
    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let (status, _, json) = self.request(method, path, body, headers);
        (status, json)
    }

    /// A blocking HTTP call returning status, headers and JSON body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, serde_json::Value) {
        let url = format!("{}{}", self.url, path);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let client = avnology_migrate::live::tls::client_builder()
                    .build()
                    .unwrap();
                let mut req = client.request(method, url);
                for (k, v) in &headers {
                    req = req.header(k, v);
                }
                if let Some(body) = body {
                    req = req.json(&body);
                }
                let resp = req.send().await.expect("request");
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let text = resp.text().await.unwrap();
                let json = if text.is_empty() {
                    serde_json::Value::Null
                } else {
                    serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
                };
                (status, headers, json)
            })
        })
        .join()
        .unwrap()
    }

    /// Opens the emulator's SQLite database read-only, for counting what it holds.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open_with_flags(&self.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
    }

    /// Stops the process and waits for it.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `f` returns true or the timeout passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A hermetic working directory for CLI runs against one emulator. Every run through
/// [`Workdir::cmd`] is recorded, and dropping the directory fails the test if a secret
/// leaked into any run's output, a file a run wrote, or an emulator's log.
pub struct Workdir {
    /// The directory.
    pub dir: tempfile::TempDir,
    record: Arc<Mutex<leaks::Record>>,
}

impl Workdir {
    /// A new empty directory.
    pub fn new() -> Self {
        Workdir {
            dir: tempfile::tempdir().unwrap(),
            record: Arc::default(),
        }
    }

    /// Runs the leak scan now (it also runs on drop, once).
    pub fn scan_leaks(&self) {
        self.record.lock().unwrap().scan(self.dir.path());
    }

    /// Path of a file in it.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a file.
    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }

    /// Copies a directory of the repository (e.g. `examples/quickstart`) into it.
    pub fn copy_from_repo(&self, rel: &str) {
        copy_dir(&repo(rel), self.dir.path());
    }

    /// The binary, run in this directory with a clean environment pointed at `emu`.
    pub fn cmd(&self, emu: Option<&Emulator>) -> cmd::Cmd {
        self.cmd_at(emu.map(|e| (e.url.as_str(), e)))
    }

    /// The binary pointed at `url` (say, a [`scripted::Scripted`] server in front of `emu`),
    /// with `emu`'s key.
    pub fn cmd_via(&self, url: &str, emu: &Emulator) -> cmd::Cmd {
        self.cmd_at(Some((url, emu)))
    }

    fn cmd_at(&self, target: Option<(&str, &Emulator)>) -> cmd::Cmd {
        let mut c = assert_cmd::Command::new(bin());
        c.current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .env("AVNOLOGY_MIGRATE_FAST_RETRY", "1")
            .timeout(Duration::from_secs(300));
        let mut envs = Vec::new();
        let view = target.map(|(url, emu)| {
            c.env("AVNOLOGY_API_URL", url)
                .env("AVNOLOGY_SECRET_KEY", &emu.api_key);
            envs.push(("AVNOLOGY_SECRET_KEY".to_string(), emu.api_key.clone()));
            leaks::EmulatorView {
                api_key: emu.api_key.clone(),
                db: emu.db.clone(),
                log: emu.stderr.clone(),
            }
        });
        cmd::Cmd::new(c, self.dir.path(), envs, view, self.record.clone())
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        // A test that already failed reports its own failure; a second panic would abort.
        if !std::thread::panicking() {
            self.scan_leaks();
        }
    }
}

/// Copies a directory (the sandbox folder left out) to `to`.
pub fn copy_dir_public(from: &Path, to: &Path) {
    copy_dir(from, to);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == ".avnology-sandbox" {
                continue;
            }
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The text of a finished command's stdout and stderr together.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Fails if any of `secrets` appears in `text`.
pub fn assert_no_secrets(text: &str, secrets: &[&str], what: &str) {
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s), "a secret leaked into {what}: {text}");
    }
}
