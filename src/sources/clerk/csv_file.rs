//! Clerk's dashboard CSV export (Instance settings → User exports), the only export that
//! carries `password_digest` and `totp_secret`. Columns are found by header name, never by
//! position: third-party samples add columns (`created_at`), and Clerk has not documented the
//! layout. The 13 columns every known export has are required; a file without one of them is
//! not a Clerk export and ends the read with an error naming the column.
//!
//! Multi-valued cells (`verified_email_addresses`, …) are split on `|`, `,` and `;` — Clerk
//! has not documented the delimiter and exports with each have been seen.

use std::path::Path;

use super::draft::{Draft, Kind, split_multi};
use crate::model::Secret;
use crate::sources::json_records::fields::normalise_key;
use crate::sources::json_records::{CsvRows, MAX_ROW_BYTES};
use crate::sources::{Location, SourceError};

/// The columns of every known dashboard export, in their usual order.
const REQUIRED: [&str; 13] = [
    "id",
    "first_name",
    "last_name",
    "username",
    "primary_email_address",
    "primary_phone_number",
    "verified_email_addresses",
    "unverified_email_addresses",
    "verified_phone_numbers",
    "unverified_phone_numbers",
    "totp_secret",
    "password_digest",
    "password_hasher",
];

/// Where each required column is.
struct Columns([usize; REQUIRED.len()]);

impl Columns {
    fn get<'a>(&self, cells: &[&'a str], name: &str) -> &'a str {
        REQUIRED
            .iter()
            .position(|c| *c == name)
            .and_then(|i| cells.get(self.0[i]))
            .copied()
            .unwrap_or_default()
    }
}

/// One row, read: where it is, its `id` when readable, and the user or why it is unreadable.
pub(super) struct Row {
    pub location: Location,
    pub id_hint: Option<String>,
    pub draft: Result<Draft, String>,
}

/// Streams every user row of the CSV at `path` to `sink`. Returns the number of rows.
///
/// # Errors
///
/// When the file cannot be read, or its header lacks a required column.
pub(super) fn read(path: &Path, sink: &mut dyn FnMut(Row)) -> Result<u64, SourceError> {
    let mut rows = CsvRows::open(path)?;
    let Some(header) = rows.next_row()? else {
        return Ok(0);
    };
    let names: Vec<String> = header
        .fields
        .iter()
        .map(|f| normalise_key(String::from_utf8_lossy(f).trim()))
        .collect();
    let mut positions = [0usize; REQUIRED.len()];
    let mut missing = Vec::new();
    for (slot, column) in positions.iter_mut().zip(REQUIRED) {
        match names.iter().position(|n| *n == normalise_key(column)) {
            Some(i) => *slot = i,
            None => missing.push(format!("`{column}`")),
        }
    }
    if !missing.is_empty() {
        let location = Location {
            file: path.to_path_buf(),
            line: Some(header.line),
            index: 0,
        };
        let message = format!(
            "the header has no {} column{}; a Clerk dashboard export has the columns {}",
            missing.join(", "),
            if missing.len() == 1 { "" } else { "s" },
            REQUIRED.join(",")
        );
        return Err(SourceError::new(location, None, message));
    }
    let columns = Columns(positions);
    let width = names.len();

    let mut index = 0u64;
    while let Some(row) = rows.next_row()? {
        let location = Location {
            file: path.to_path_buf(),
            line: Some(row.line),
            index,
        };
        index += 1;
        let cells: Result<Vec<&str>, usize> = row
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| std::str::from_utf8(f).map_err(|_| i))
            .collect();
        let id_hint = cells
            .as_ref()
            .ok()
            .map(|cells| columns.get(cells, "id").trim())
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        let draft = if row.too_long {
            Err(format!(
                "row has an unbalanced `\"` and runs past {MAX_ROW_BYTES} bytes"
            ))
        } else {
            match &cells {
                Err(i) => Err(format!(
                    "the `{}` cell is not valid UTF-8",
                    names.get(*i).map_or("?", String::as_str)
                )),
                Ok(cells) if cells.len() != width => Err(format!(
                    "row has {} fields but the header has {width}",
                    cells.len()
                )),
                Ok(cells) => Ok(draft(&columns, cells)),
            }
        };
        sink(Row {
            location,
            id_hint,
            draft,
        });
    }
    Ok(index)
}

/// The user of one row. Every cell is text; an empty cell means "not set".
fn draft(columns: &Columns, cells: &[&str]) -> Draft {
    let cell = |name: &str| {
        let value = columns.get(cells, name).trim();
        (!value.is_empty()).then(|| value.to_owned())
    };
    let mut draft = Draft {
        id: cell("id"),
        first_name: cell("first_name"),
        last_name: cell("last_name"),
        username: cell("username"),
        primary_email: cell("primary_email_address"),
        primary_phone: cell("primary_phone_number"),
        verification_listed: true,
        // The secret itself is dropped here: only whether one was set matters.
        mfa: cell("totp_secret").is_some(),
        password_digest: cell("password_digest").map(Secret::new),
        password_hasher: cell("password_hasher"),
        ..Draft::default()
    };
    for (column, kind, verified) in [
        ("verified_email_addresses", Kind::Email, true),
        ("unverified_email_addresses", Kind::Email, false),
        ("verified_phone_numbers", Kind::Phone, true),
        ("unverified_phone_numbers", Kind::Phone, false),
    ] {
        for value in split_multi(columns.get(cells, column)) {
            draft.add(kind, value, None, Some(verified));
        }
    }
    draft
}
