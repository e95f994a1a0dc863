//! Scale measurements for the readers (not part of the tool).
//!
//! `scripts/bench-scale.sh` runs both; by hand:
//!
//! ```sh
//! python3 scripts/gen-auth0-users.py 1000000 target/g1m
//! cargo build --release --locked --example bare_parse
//! # The floor: serde_json parses every line of each file into a `Value`, nothing else.
//! /usr/bin/time -v target/release/examples/bare_parse \
//!     target/g1m/auth0_users.ndjson target/g1m/auth0_passwords.ndjson
//! # The readers alone: every `[[users]]` source of a manifest through `read_user_source`,
//! # items counted and dropped (no plan, no digests, no duplicate maps).
//! /usr/bin/time -v target/release/examples/bare_parse --reader target/g1m/migration.toml
//! ```
//!
//! The file lives in `examples/` beside the example data folders; Cargo builds
//! `examples/*.rs` as example targets and ignores folders without a `main.rs`, so the two do
//! not collide.

// A benchmark program: its measurements are what it prints, to stderr, beside the
// `/usr/bin/time -v` report it runs under.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Instant;

use avnology_migrate::sources::{UserItem, read_user_source};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, manifest] if flag == "--reader" => reader_only(Path::new(manifest)),
        [] => Err("usage: bare_parse FILE.ndjson… | bare_parse --reader MANIFEST".into()),
        files => {
            for file in files {
                bare(Path::new(file))?;
            }
            Ok(())
        }
    }
}

/// Parses every non-blank line of `path` into a `serde_json::Value` and counts them.
fn bare(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut reader = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut line = Vec::new();
    let (mut records, mut objects) = (0u64, 0u64);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(&line)?;
        records += 1;
        objects += u64::from(value.is_object());
    }
    eprintln!(
        "{}: {records} records ({objects} objects) parsed in {:.2?}",
        path.display(),
        start.elapsed()
    );
    Ok(())
}

/// Streams every users source of the manifest through the readers and counts the items.
fn reader_only(manifest: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let manifest = avnology_migrate::manifest::load(manifest)?;
    for source in &manifest.users {
        let start = Instant::now();
        let (mut identities, mut skipped, mut invalid, mut warnings) = (0u64, 0u64, 0u64, 0u64);
        let stats = read_user_source(source, &mut |item| match item {
            UserItem::Identity(..) => identities += 1,
            UserItem::Skipped(_) => skipped += 1,
            UserItem::Invalid(_) => invalid += 1,
            UserItem::Warning(_) => warnings += 1,
        })?;
        eprintln!(
            "source `{}`: {stats:?}; {identities} identities, {skipped} skipped, {invalid} invalid, \
             {warnings} warnings in {:.2?}",
            source.name,
            start.elapsed()
        );
    }
    Ok(())
}
