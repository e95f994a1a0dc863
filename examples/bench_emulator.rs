//! Load driver for the emulator's scale goals (DESIGN.md §8), run by
//! `scripts/bench-emulator.sh`; not a test, so a slow machine fails nothing.
//!
//! ```text
//! bench_emulator seed DB N                         # N identities straight into DB
//! bench_emulator creates URL KEY N [CONCURRENCY]   # POST /v1/identities, N in all
//! bench_emulator list URL KEY ORG_ID [MAX_PAGES]   # follow next_page_token to the end
//! ```
//!
//! `seed` writes organization `bench-list` and N identities into the database file DB
//! without HTTP (through the same code as the create route) and prints the organization's
//! id on stdout. `creates` first makes an organization, then sends N creates shaped like the ones `apply`
//! sends for an Auth0 user (an `Idempotency-Key`, `external_id`, a bcrypt `password_hash`,
//! the organization) from CONCURRENCY (default 8) tasks over keep-alive connections, and
//! prints creates per second. `list` pages through every identity of one organization at
//! `page_size=100` (stopping after MAX_PAGES pages if given) and prints the time and pages
//! per second. Both talk only to the URL
//! given (the script passes a loopback one) and stop by themselves. The request bodies come
//! from `avnology_migrate::emulator::bench`, which also seeds databases directly, so what
//! is seeded and what is sent through the API are the same records.

// A benchmark program: its report (rates, times, the seeded organization's id) is what it
// prints, on stdout and stderr, outside the tool's printer.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use avnology_migrate::emulator::bench;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, what: &str| {
        args.get(i)
            .cloned()
            .with_context(|| format!("missing {what} (see the module docs)"))
    };
    match args.first().map(String::as_str) {
        Some("creates") => {
            let n: u64 = arg(3, "N")?.parse().context("N")?;
            let concurrency: u64 = match args.get(4) {
                Some(c) => c.parse().context("CONCURRENCY")?,
                None => 8,
            };
            creates(&arg(1, "URL")?, &arg(2, "KEY")?, n, concurrency).await
        }
        Some("seed") => {
            let n: u64 = arg(2, "N")?.parse().context("N")?;
            let started = Instant::now();
            let org = bench::seed(std::path::Path::new(&arg(1, "DB")?), "bench-list", n)?;
            eprintln!(
                "seed: {n} identities in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            println!("{org}");
            Ok(())
        }
        Some("list") => {
            let max_pages: u64 = match args.get(4) {
                Some(m) => m.parse().context("MAX_PAGES")?,
                None => u64::MAX,
            };
            list(
                &arg(1, "URL")?,
                &arg(2, "KEY")?,
                &arg(3, "ORG_ID")?,
                max_pages,
            )
            .await
        }
        _ => bail!(
            "usage: bench_emulator seed DB N | creates URL KEY N [CONCURRENCY] | list URL KEY ORG_ID [MAX_PAGES]"
        ),
    }
}

fn client() -> anyhow::Result<reqwest::Client> {
    Ok(avnology_migrate::live::tls::client_builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .build()?)
}

async fn creates(url: &str, key: &str, n: u64, concurrency: u64) -> anyhow::Result<()> {
    let http = client()?;
    // A fresh organization per run, so runs against one database never collide.
    let name = format!("bench-{}", std::process::id());
    let org: Value = http
        .post(format!("{url}/v1/organizations"))
        .bearer_auth(key)
        .json(&json!({ "name": name }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let org_id = org["id"].as_str().context("organization id")?.to_string();
    let run = format!("{:x}", std::process::id());
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (http, next, url, key, org_id, run) = (
            http.clone(),
            next.clone(),
            url.to_string(),
            key.to_string(),
            org_id.clone(),
            run.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                let (idem, body) = bench::create_request(&run, i, &org_id);
                let t = Instant::now();
                let resp = http
                    .post(format!("{url}/v1/identities"))
                    .bearer_auth(&key)
                    .header("Idempotency-Key", idem)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = resp.status();
                let text = resp.text().await?;
                ensure!(status.as_u16() == 201, "create {i}: {status} {text}");
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    println!(
        "creates: {n} in {secs:.2} s = {:.0}/s with {concurrency} concurrent clients \
         (latency p50 {:.1} ms, p99 {:.1} ms)",
        n as f64 / secs,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
    );
    Ok(())
}

async fn list(url: &str, key: &str, org_id: &str, max_pages: u64) -> anyhow::Result<()> {
    let http = client()?;
    let filter = format!("organization_id = \"{org_id}\"");
    let started = Instant::now();
    let (mut pages, mut items) = (0u64, 0u64);
    let mut token: Option<String> = None;
    let mut slowest = Duration::ZERO;
    loop {
        let mut query = vec![("page_size", "100".to_string()), ("filter", filter.clone())];
        if let Some(t) = &token {
            query.push(("page_token", t.clone()));
        }
        let t = Instant::now();
        let page: Value = http
            .get(format!("{url}/v1/identities"))
            .bearer_auth(key)
            .query(&query)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        slowest = slowest.max(t.elapsed());
        pages += 1;
        items += page["identities"].as_array().map_or(0, |a| a.len() as u64);
        if pages == 1 {
            println!("list: first page total_size = {}", page["total_size"]);
        }
        match page["next_page_token"].as_str() {
            Some(t) if !t.is_empty() && pages < max_pages => token = Some(t.to_string()),
            _ => break,
        }
        if pages % 1000 == 0 {
            eprintln!(
                "list: {pages} pages, {items} identities, {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "list: {items} identities in {pages} pages in {secs:.2} s = {:.0} pages/s \
         (slowest page {:.1} ms)",
        pages as f64 / secs,
        slowest.as_secs_f64() * 1e3,
    );
    Ok(())
}
