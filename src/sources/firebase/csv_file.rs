//! `firebase auth:export users.csv`: no header row, one user per line, values joined with `,`
//! and a trailing comma (provider-formats 3.1). Positional, so the layout is recognised by the
//! number of fields: 28 values (firebase-tools ≤ v15.18) or 52 (v15.19+, which appended six
//! providers), each followed by the trailing comma's empty field. Lines without the trailing
//! comma (hand-edited files) are accepted too.
//!
//! Each line is turned into the entries a JSON export would have for the same user, so the two
//! formats share one converter. Empty cells are absent values. Only `displayName` and
//! `customAttributes` are quoted by Firebase (CSV rules, `"` doubled); [`CsvRows`] undoes
//! that and skips blank lines. A header row, which Clerk's migration tool prepends, is
//! recognised and skipped.

use std::path::Path;

use serde_json::{Map, Value};

use crate::sources::json_records::{CsvRows, JsonRecord, MAX_ROW_BYTES};
use crate::sources::{Location, SourceError};

/// Values per line in the old layout (before the trailing comma).
const OLD_VALUES: usize = 28;
/// Values per line since firebase-tools v15.19.
const NEW_VALUES: usize = 52;

/// The four provider columns (`rawId, email, displayName, photoUrl`) start at these indexes.
const PROVIDERS: [(&str, usize); 10] = [
    ("google.com", 7),
    ("facebook.com", 11),
    ("twitter.com", 15),
    ("github.com", 19),
    // v15.19+ only.
    ("apple.com", 28),
    ("microsoft.com", 32),
    ("gc.apple.com", 36),
    ("playgames.google.com", 40),
    ("linkedin.com", 44),
    ("yahoo.com", 48),
];

/// The user columns before, between and after the provider blocks, by JSON key.
const COLUMNS: [(&str, usize); 12] = [
    ("localId", 0),
    ("email", 1),
    ("emailVerified", 2),
    ("passwordHash", 3),
    ("salt", 4),
    ("displayName", 5),
    ("photoUrl", 6),
    ("createdAt", 23),
    ("lastSignedInAt", 24),
    ("phoneNumber", 25),
    ("disabled", 26),
    ("customAttributes", 27),
];

/// Streams every line of the CSV export at `path` to `sink` as a record. Returns the number of
/// records (a skipped header row is not one).
pub(super) fn read(path: &Path, sink: &mut dyn FnMut(JsonRecord)) -> Result<u64, SourceError> {
    let mut rows = CsvRows::open(path)?;
    let mut index = 0u64;
    let mut first = true;
    while let Some(row) = rows.next_row()? {
        let is_first = std::mem::take(&mut first);
        let fields = &row.fields;
        if is_first
            && fields
                .get(0)
                .is_some_and(|f| f.eq_ignore_ascii_case(b"localId"))
        {
            continue;
        }
        let location = Location {
            file: path.to_path_buf(),
            line: Some(row.line),
            index,
        };
        index += 1;
        let id_hint = fields
            .get(0)
            .and_then(|f| std::str::from_utf8(f).ok())
            .filter(|id| !id.trim().is_empty())
            .map(str::to_owned);
        let entries = if row.too_long {
            Err(format!(
                "line has an unbalanced `\"` and runs past {MAX_ROW_BYTES} bytes"
            ))
        } else {
            entries(fields)
        };
        sink(JsonRecord {
            location,
            entries,
            id_hint,
        });
    }
    Ok(index)
}

/// The JSON entries of one line, or why it is not a user line.
fn entries(row: &csv::ByteRecord) -> Result<Vec<(String, Value)>, String> {
    let values = match row.len() {
        n @ (OLD_VALUES | NEW_VALUES) => n,
        n if (n == OLD_VALUES + 1 || n == NEW_VALUES + 1) && row[n - 1].is_empty() => n - 1,
        n => {
            return Err(format!(
                "line has {n} fields; `firebase auth:export` CSV lines have {OLD_VALUES} values \
                 ({NEW_VALUES} since firebase-tools v15.19) followed by a trailing comma"
            ));
        }
    };
    let mut cells = Vec::with_capacity(values);
    for (i, cell) in row.iter().take(values).enumerate() {
        let text =
            std::str::from_utf8(cell).map_err(|_| format!("field {} is not valid UTF-8", i + 1))?;
        cells.push(text);
    }

    let mut entries = Vec::with_capacity(COLUMNS.len() + 1);
    for (key, i) in COLUMNS {
        if !cells[i].is_empty() {
            entries.push((key.to_owned(), Value::String(cells[i].to_owned())));
        }
    }
    let mut providers = Vec::new();
    for (provider_id, start) in PROVIDERS {
        let Some(block) = cells.get(start..start + 4) else {
            continue;
        };
        if block.iter().all(|c| c.is_empty()) {
            continue;
        }
        let mut info = Map::new();
        info.insert("providerId".into(), Value::String(provider_id.into()));
        for (key, value) in ["rawId", "email", "displayName", "photoUrl"]
            .iter()
            .zip(block)
        {
            if !value.is_empty() {
                info.insert((*key).into(), Value::String((*value).into()));
            }
        }
        providers.push(Value::Object(info));
    }
    entries.push(("providerUserInfo".to_owned(), Value::Array(providers)));
    Ok(entries)
}
