//! A scripted server: an HTTP proxy on 127.0.0.1 in front of an emulator that answers each
//! request as a test's script says (forward it, or answer a status without forwarding), so
//! a failure lands on exactly the request a test means, not on a random one.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// One request as the script sees it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, e.g. `/v1/identities`.
    pub path: String,
    /// The query string, percent-decoded (empty when there is none).
    pub query: String,
    /// What it was answered.
    pub status: u16,
    /// Whether the script answered it (the emulator never saw it).
    pub scripted: bool,
}

/// The script's answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Send it to the emulator and pass its answer back.
    Forward,
    /// Answer this status (with an API error body) without forwarding.
    Status(u16),
}

/// Decides each request, given the requests answered before it.
pub type Script = Box<dyn FnMut(&Seen, &[Seen]) -> Reply + Send>;

struct Shared {
    upstream: String,
    http: reqwest::Client,
    script: Mutex<Script>,
    seen: Mutex<Vec<Seen>>,
}

/// A running scripted server; stopped on drop.
pub struct Scripted {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Scripted {
    /// Starts a server in front of `upstream` answering as `script` says.
    pub fn start(
        upstream: &str,
        script: impl FnMut(&Seen, &[Seen]) -> Reply + Send + 'static,
    ) -> Scripted {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: avnology_migrate::live::tls::client_builder()
                .build()
                .unwrap(),
            script: Mutex::new(Box::new(script)),
            seen: Mutex::default(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(answer).with_state(state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Scripted {
            url,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Every request answered so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn answer(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = parts.uri.query().unwrap_or_default();
    let mut seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: percent_decode(query),
        status: 0,
        scripted: false,
    };
    let reply = {
        let history = shared.seen.lock().unwrap().clone();
        (shared.script.lock().unwrap())(&seen, &history)
    };
    let response = match reply {
        Reply::Status(code) => {
            seen.scripted = true;
            let status = StatusCode::from_u16(code).unwrap();
            let error = serde_json::json!({"error": {
                "code": status.canonical_reason().unwrap_or("error").to_lowercase().replace(' ', "_"),
                "message": "scripted failure",
            }});
            (status, axum::Json(error)).into_response()
        }
        Reply::Forward => {
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            let url = format!("{}{}", shared.upstream, parts.uri);
            forward(&shared.http, parts.method, &url, parts.headers, body).await
        }
    };
    seen.status = response.status().as_u16();
    shared.seen.lock().unwrap().push(seen);
    response
}

async fn forward(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut request = http.request(method, url).body(body);
    for (name, value) in &headers {
        if name != axum::http::header::HOST && name != axum::http::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let upstream = request.send().await.unwrap();
    let mut response = Response::builder().status(upstream.status().as_u16());
    for (name, value) in upstream.headers() {
        if name != axum::http::header::CONTENT_LENGTH
            && name != axum::http::header::TRANSFER_ENCODING
        {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(upstream.bytes().await.unwrap()))
        .unwrap()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
