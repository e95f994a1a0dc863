//! The client's unit tests: the URL and key policy, the retry loop against a scripted
//! loopback server ([`fake`]), and each resource's paths, headers and secret handling.

mod policy;
mod resources;
mod retries;

use std::sync::{Arc, Mutex};

use reqwest::header::HeaderMap;

use super::{Client, ClientOptions};
use crate::live::Result;
use crate::printer::Trace;
use crate::wire;

pub(super) fn key() -> wire::ApiKey {
    wire::ApiKey::new("ak_test_supersecretvalue")
}

pub(super) fn client(url: &str) -> Result<Client> {
    Client::new(url, key(), ClientOptions::default())
}

/// A request as the fake server saw it.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

/// A canned answer: status, headers, body.
pub(super) type Answer = (u16, Vec<(&'static str, String)>, String);

/// Canned answers, served in order (the last one repeats), and what was asked.
#[derive(Default)]
pub(super) struct Script {
    pub(super) answers: Vec<Answer>,
    pub(super) seen: Vec<Seen>,
}

pub(super) type Shared = Arc<Mutex<Script>>;

pub(super) async fn fake(answers: Vec<Answer>) -> (String, Shared) {
    use axum::response::IntoResponse;
    let script: Shared = Arc::new(Mutex::new(Script {
        answers,
        seen: vec![],
    }));
    let state = script.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let state = state.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap().to_vec();
            let mut s = state.lock().unwrap();
            s.seen.push(Seen {
                method: parts.method.to_string(),
                path: parts.uri.to_string(),
                headers: parts.headers.clone(),
                body,
            });
            let n = s.seen.len() - 1;
            let (status, headers, body) = s.answers[n.min(s.answers.len() - 1)].clone();
            let mut resp =
                (axum::http::StatusCode::from_u16(status).unwrap(), body).into_response();
            for (k, v) in headers {
                resp.headers_mut().insert(k, v.parse().unwrap());
            }
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, script)
}

pub(super) fn fast(url: &str) -> Client {
    let options = ClientOptions {
        fast_retry: true,
        max_attempts: 4,
        ..Default::default()
    };
    Client::new(url, key(), options).unwrap()
}

/// A fast-retrying client whose `--verbose` lines are collected.
pub(super) fn traced(url: &str) -> (Client, Arc<Mutex<Vec<String>>>) {
    let (trace, lines) = Trace::collect();
    let options = ClientOptions {
        trace,
        fast_retry: true,
        ..Default::default()
    };
    (Client::new(url, key(), options).unwrap(), lines)
}

pub(super) fn identity_json(id: &str, etag: &str) -> String {
    serde_json::json!({"id": id, "email": "a@example.com", "external_id": "x|1", "etag": etag})
        .to_string()
}

const JSON: (&str, &str) = ("content-type", "application/json");

pub(super) fn json_header() -> Vec<(&'static str, String)> {
    vec![(JSON.0, JSON.1.to_string())]
}
