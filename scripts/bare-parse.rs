//! The baseline of `scripts/bench-scale.sh`: the time to parse NDJSON files into
//! `serde_json::Value`, one line at a time, and nothing else. `validate` does strictly more
//! (typed records, checks, the password join); this is the floor it is compared with.
//!
//!     cargo run --release --example bare-parse -- FILE...

use std::io::BufRead;

fn main() -> std::io::Result<()> {
    let mut records = 0u64;
    for path in std::env::args().skip(1) {
        let reader = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(&path)?);
        for line in reader.lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value = serde_json::from_str(&line)?;
            records += u64::from(value.is_object());
        }
    }
    println!("{records} records parsed");
    Ok(())
}
