//! Auth0 clients (applications), from whichever file a team has:
//!
//! * `GET /api/v2/clients` output — a JSON array, or the paged object
//!   `{"clients": [...], "start", "limit", "total"}`, or several such pages appended to one
//!   file — streamed by [`json_records`](crate::sources::json_records);
//! * an auth0-deploy-cli YAML export: `tenant.yaml` (or any `.yaml` / `.yml` file) with a
//!   top-level `clients:` list (`deploy_cli`);
//! * an auth0-deploy-cli directory export: `clients/*.json`, one client a file; `path` names
//!   the export directory (holding `clients/` or `tenant.yaml`) or the `clients/` directory
//!   itself.
//!
//! This module owns telling these apart; `convert` maps one record and `deploy_cli` reads the
//! deploy-cli layouts, filling their `##KEY##` / `@@KEY@@` keywords from the source's `vars`.
//! Management API output is filled too (inside its strings), so a templated export works
//! either way.

mod convert;
mod deploy_cli;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use convert::is_client_id_key;

use crate::sources::SourceError;
use crate::sources::clients::placeholders::fill_value;
use crate::sources::clients::{ClientRecord, as_client_export};
use crate::sources::json_records::{first_content_byte, read_json_records_in};
use crate::sources::record::convert_or_invalid;

/// Reads the Auth0 client export at `path` and hands every record to `sink`.
///
/// # Errors
///
/// When the export cannot be read at all: it cannot be opened, a JSON syntax error leaves no
/// place to resume, a JSON object has no `clients` array, a YAML file has no top-level
/// `clients:`, or a directory holds no deploy-cli clients.
pub(crate) fn read_clients(
    path: &Path,
    vars: &BTreeMap<String, String>,
    sink: &mut dyn FnMut(ClientRecord),
) -> Result<(), SourceError> {
    if path.is_dir() {
        return deploy_cli::read_directory(path, vars, sink);
    }
    let yaml_name = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    if yaml_name {
        return deploy_cli::read_yaml(path, vars, sink);
    }
    match first_content_byte(path)? {
        None => Ok(()),
        Some(b'{' | b'[') => read_management_api(path, vars, sink),
        // Not JSON: a tenant.yaml saved under another name.
        Some(_) => deploy_cli::read_yaml(path, vars, sink),
    }
}

/// `GET /api/v2/clients` output, streamed record by record.
fn read_management_api(
    path: &Path,
    vars: &BTreeMap<String, String>,
    sink: &mut dyn FnMut(ClientRecord),
) -> Result<(), SourceError> {
    read_json_records_in(path, "clients", is_client_id_key, &mut |record| {
        let outcome = convert_or_invalid(record.entries, record.id_hint, |mut entries| {
            if !vars.is_empty() {
                for (_, value) in &mut entries {
                    fill_value(value, vars);
                }
            }
            convert::convert(entries)
        });
        sink(ClientRecord {
            location: record.location,
            outcome,
        });
    })
    .map_err(as_client_export)?;
    Ok(())
}
