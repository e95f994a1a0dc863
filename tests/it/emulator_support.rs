//! Helpers shared by the emulator's integration tests (`emulator_*.rs`): requests that
//! create identities, clients, service accounts and keys, the error envelope's fields, the
//! emulator started by hand, raw HTTP exchanges, and the Firebase scrypt test vector.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{self, Emulator};

// Firebase's published modified-scrypt test vector (firebase/scrypt README).
pub(crate) const FB_SIGNER_KEY: &str =
    "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
pub(crate) const FB_SEPARATOR: &str = "Bw==";
pub(crate) const FB_SALT: &str = "42xEC+ixf3L2lw==";
pub(crate) const FB_HASH: &str =
    "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==";
pub(crate) const FB_PASSWORD: &str = "user1password";

/// bcrypt of "hunter2-bcrypt" at cost 4, computed once per test process.
pub(crate) fn bcrypt_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| bcrypt::hash("hunter2-bcrypt", 4).unwrap())
}

pub(crate) fn create(emu: &Emulator, identity: Value) -> (u16, Value) {
    let body = serde_json::Map::from_iter([("identity".to_string(), identity)]);
    emu.call("POST", "/v1/identities", Some(Value::Object(body)))
}

pub(crate) fn created_id(emu: &Emulator, identity: Value) -> String {
    let (status, body) = create(emu, identity);
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

pub(crate) fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

pub(crate) fn count(emu: &Emulator, sql: &str) -> i64 {
    emu.db().query_row(sql, [], |r| r.get(0)).unwrap()
}

pub(crate) fn login(emu: &Emulator, identifier: &str, password: &str) -> (u16, Value) {
    emu.login(identifier, password)
}

pub(crate) fn auth(emu: &Emulator) -> String {
    format!("Bearer {}", emu.api_key)
}

/// A raw HTTP/1.1 exchange on a fresh loopback connection: the bytes the server sent before
/// closing (empty when it closed without a response). Bounded by a read timeout.
pub(crate) fn raw_exchange(emu: &Emulator, request: &str) -> Vec<u8> {
    let addr = emu.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    out
}

/// The emulator binary started by hand (for flags the shared harness always sets), with
/// its stderr read until the `listening on` line.
pub(crate) struct Manual {
    pub(crate) child: Child,
    pub(crate) stderr_lines: Vec<String>,
    pub(crate) url: String,
    pub(crate) rest: std::sync::mpsc::Receiver<String>,
}

impl Manual {
    pub(crate) fn start(args: &[&str]) -> Manual {
        let mut child = Command::new(common::bin())
            .arg("emulator")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Owned by the guard from here on, so a failed start still kills and reaps it.
        let mut m = Manual {
            child,
            stderr_lines: Vec::new(),
            url: String::new(),
            rest: rx,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = m
                .rest
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("emulator did not start: {:?}", m.stderr_lines));
            let url = line.strip_prefix("listening on ").map(str::to_string);
            m.stderr_lines.push(line);
            if let Some(url) = url {
                m.url = url;
                return m;
            }
        }
    }
}

impl Drop for Manual {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET with the given key, returning the status.
pub(crate) fn get_status(url: &str, path: &str, key: &str) -> u16 {
    let url = format!("{url}{path}");
    let key = key.to_string();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            avnology_migrate::live::tls::client_builder()
                .build()
                .unwrap()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    })
    .join()
    .unwrap()
}

pub(crate) fn error_field(body: &Value) -> &str {
    body["error"]["details"]["field"].as_str().unwrap_or("")
}

pub(crate) fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()).as_slice())
}

/// Everything the database holds on disk (main file and write-ahead log), as text.
pub(crate) fn db_bytes(emu: &Emulator) -> String {
    let mut all = Vec::new();
    for suffix in ["", "-wal"] {
        let mut path = emu.db.clone().into_os_string();
        path.push(suffix);
        if let Ok(bytes) = std::fs::read(&path) {
            all.extend(bytes);
        }
    }
    String::from_utf8_lossy(&all).into_owned()
}

pub(crate) fn is_alnum(s: &str) -> bool {
    s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A valid confidential client body, with overrides merged in.
pub(crate) fn client_body(overrides: Value) -> Value {
    let mut client = json!({
        "client_name": "Web app",
        "client_type": "confidential",
        "external_id": "auth0|web",
        "redirect_uris": ["https://app.example.com/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile"],
    });
    let Value::Object(overrides) = overrides else {
        panic!("overrides must be an object");
    };
    for (k, v) in overrides {
        if v.is_null() {
            client.as_object_mut().unwrap().remove(&k);
        } else {
            client[k] = v;
        }
    }
    json!({ "client": client })
}

pub(crate) fn create_client(emu: &Emulator, overrides: Value) -> (u16, Value) {
    emu.call("POST", "/v1/oauth-clients", Some(client_body(overrides)))
}

pub(crate) fn created_client(emu: &Emulator, overrides: Value) -> Value {
    let (status, body) = create_client(emu, overrides);
    assert_eq!(status, 201, "{body}");
    body
}

pub(crate) fn owner(emu: &Emulator, email: &str) -> String {
    let (status, body) = emu.call(
        "POST",
        "/v1/identities",
        Some(json!({"identity": {"email": email}})),
    );
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

pub(crate) fn created_sa(emu: &Emulator, body: Value) -> Value {
    let (status, sa) = emu.call("POST", "/v1/service-accounts", Some(body));
    assert_eq!(status, 201, "{sa}");
    sa
}

pub(crate) fn mint_key(emu: &Emulator, sa_id: &str, scopes: Value) -> Value {
    let (status, key) = emu.call(
        "POST",
        &format!("/v1/service-accounts/{sa_id}/keys"),
        Some(Value::Object(serde_json::Map::from_iter([
            ("name".to_string(), json!("ci")),
            ("scopes".to_string(), scopes),
        ]))),
    );
    assert_eq!(status, 201, "{key}");
    key
}

pub(crate) fn with_key(key: &str) -> String {
    format!("Bearer {key}")
}

pub(crate) fn list_path(base: &str, filter: &str) -> String {
    let mut url = reqwest::Url::parse(&format!("http://x{base}")).unwrap();
    url.query_pairs_mut().append_pair("filter", filter);
    format!("{base}?{}", url.query().unwrap())
}
