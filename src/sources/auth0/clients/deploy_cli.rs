//! auth0-deploy-cli exports (prior-art 3.1): the YAML format (`tenant.yaml`, a top-level
//! `clients:` list among the tenant's other resources) and the directory format
//! (`clients/<name>.json`, one client a file). Both are filled with the source's `vars`
//! before parsing, as deploy-cli does
//! ([`placeholders`](crate::sources::clients::placeholders)).
//!
//! `tenant.yaml` is not parsed whole. Its `clients:` section is cut into one piece per list
//! item at the items' indentation, and each piece is filled and parsed on its own. That gives
//! every client the line it starts on (a YAML parser keeps no positions), keeps a broken item
//! from hiding the others, and leaves the tenant's other resources — with their own keywords
//! for connection secrets and the like — out of it. A `clients:` written in flow style
//! (`clients: [...]`) is parsed as one piece, its clients placed on the `clients:` line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::convert;
use crate::sources::clients::placeholders::{Syntax, fill};
use crate::sources::clients::{ClientRecord, Outcome, first_content_line, read_text};
use crate::sources::json_records::kind_of;
use crate::sources::{Location, SourceError};

/// A deploy-cli export directory, its `clients/` directory, or a directory holding
/// `tenant.yaml`.
pub(super) fn read_directory(
    dir: &Path,
    vars: &BTreeMap<String, String>,
    sink: &mut dyn FnMut(ClientRecord),
) -> Result<(), SourceError> {
    let clients_dir = dir.join("clients");
    if clients_dir.is_dir() {
        return read_client_files(&clients_dir, vars, sink);
    }
    for name in ["tenant.yaml", "tenant.yml"] {
        let tenant = dir.join(name);
        if tenant.is_file() {
            return read_yaml(&tenant, vars, sink);
        }
    }
    let files = json_files(dir)?;
    if files.is_empty() {
        return Err(SourceError::new(
            at_start(dir),
            None,
            "the directory holds no auth0-deploy-cli clients: no `clients/` directory, no \
             `tenant.yaml` and no `*.json` client files",
        ));
    }
    read_files(files, vars, sink);
    Ok(())
}

fn read_client_files(
    dir: &Path,
    vars: &BTreeMap<String, String>,
    sink: &mut dyn FnMut(ClientRecord),
) -> Result<(), SourceError> {
    let files = json_files(dir)?;
    read_files(files, vars, sink);
    Ok(())
}

/// The `*.json` files of `dir`, by name, so the order (and the record numbers) do not depend
/// on the file system.
fn json_files(dir: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let cannot = |e: std::io::Error| {
        SourceError::new(
            at_start(dir),
            None,
            format!("cannot read the directory: {e}"),
        )
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let path = entry.map_err(cannot)?.path();
        let json = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if json && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// One client per file: a file that cannot be read or parsed is that client's problem only.
fn read_files(
    files: Vec<PathBuf>,
    vars: &BTreeMap<String, String>,
    sink: &mut dyn FnMut(ClientRecord),
) {
    for (index, file) in files.into_iter().enumerate() {
        let mut location = Location {
            file,
            line: None,
            index: index as u64,
        };
        let outcome = match read_text(&location.file) {
            Err(err) => Outcome::Invalid {
                external_id: None,
                message: err.message,
            },
            Ok(text) => {
                location.line = Some(first_content_line(&text));
                let filled = fill(&text, vars, Syntax::Json);
                match serde_json::from_str::<Value>(&filled) {
                    Ok(Value::Object(map)) => convert::convert(map.into_iter().collect()),
                    Ok(other) => Outcome::Invalid {
                        external_id: None,
                        message: format!(
                            "a deploy-cli client file holds one JSON object, not {}",
                            kind_of(&other)
                        ),
                    },
                    Err(err) => {
                        location.line = Some(err.line() as u64);
                        Outcome::Invalid {
                            external_id: None,
                            message: json_problem(&err),
                        }
                    }
                }
            }
        };
        sink(ClientRecord { location, outcome });
    }
}

/// A serde_json error without any input quoted: syntax and EOF messages name only what was
/// expected; other kinds get a fixed text.
fn json_problem(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    let bare = full.strip_suffix(&suffix).unwrap_or(&full);
    match err.classify() {
        Category::Syntax => format!(
            "malformed JSON ({bare}) at line {} column {}",
            err.line(),
            err.column()
        ),
        Category::Eof => format!("the file is truncated ({bare}) at line {}", err.line()),
        Category::Io | Category::Data => "the file is not a JSON client object".to_owned(),
    }
}

/// A deploy-cli YAML export.
pub(super) fn read_yaml(
    path: &Path,
    vars: &BTreeMap<String, String>,
    sink: &mut dyn FnMut(ClientRecord),
) -> Result<(), SourceError> {
    let text = read_text(path)?;
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let Some(key) = lines.iter().position(|l| clients_key(l).is_some()) else {
        return Err(SourceError::new(
            at_start(path),
            None,
            "the YAML has no top-level `clients:` list, so it is not an auth0-deploy-cli \
             export with clients",
        ));
    };
    let end = section_end(&lines, key);
    let inline = clients_key(lines[key]).unwrap_or_default();

    let items = if inline.is_empty() {
        block_items(&lines, key, end)
    } else {
        None
    };
    let Some(items) = items else {
        return read_whole_section(path, &lines[key..end], key, vars, sink);
    };
    for (index, (start, stop)) in items.iter().copied().enumerate() {
        let location = Location {
            file: path.to_path_buf(),
            line: Some(start as u64 + 1),
            index: index as u64,
        };
        let piece = lines[start..stop].join("\n");
        let filled = fill(&piece, vars, Syntax::Yaml);
        let outcome = match yaml_serde::from_str::<yaml_serde::Value>(&filled) {
            Ok(yaml_serde::Value::Sequence(mut items)) if items.len() == 1 => {
                client_value(items.remove(0))
            }
            Ok(_) => Outcome::Invalid {
                external_id: None,
                message: "the list item is not one YAML node".to_owned(),
            },
            Err(err) => Outcome::Invalid {
                external_id: None,
                message: yaml_problem(&err, start as u64),
            },
        };
        sink(ClientRecord { location, outcome });
    }
    Ok(())
}

/// What follows `clients:` on its line (comments dropped; empty for a block list), or `None`
/// when the line is not the top-level `clients` key.
fn clients_key(line: &str) -> Option<&str> {
    let rest = ["clients", "\"clients\"", "'clients'"]
        .iter()
        .find_map(|k| line.strip_prefix(k))?;
    let rest = rest.trim_start_matches([' ', '\t']).strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let rest = rest.trim();
    Some(if rest.starts_with('#') { "" } else { rest })
}

/// The line after the `clients:` section: the next top-level key or document marker.
fn section_end(lines: &[&str], key: usize) -> usize {
    for (i, line) in lines.iter().enumerate().skip(key + 1) {
        let top_level = line
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && !matches!(c, '#' | '-' | ']' | '}' | ','));
        if top_level || line.starts_with("---") || line.starts_with("...") {
            return i;
        }
    }
    lines.len()
}

/// The `(first line, line after)` of each item of a block list in `lines[key+1..end]`, or
/// `None` when the section is not a block list (left to the whole-section parse to explain).
fn block_items(lines: &[&str], key: usize, end: usize) -> Option<Vec<(usize, usize)>> {
    let mut starts = Vec::new();
    let mut indent = None;
    let mut stop = end;
    for (i, line) in lines.iter().enumerate().take(end).skip(key + 1) {
        let content = line.trim_start_matches(' ');
        if content.trim().is_empty() || content.starts_with('#') {
            continue;
        }
        let here = line.len() - content.len();
        let dash = content == "-" || content.starts_with("- ") || content.starts_with("-\t");
        match indent {
            None if dash => {
                indent = Some(here);
                starts.push(i);
            }
            None => return None,
            Some(level) if here < level || (here == level && !dash) => {
                stop = i;
                break;
            }
            Some(level) if here == level => starts.push(i),
            Some(_) => {}
        }
    }
    let mut items = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let next = starts.get(n + 1).copied().unwrap_or(stop);
        items.push((start, next));
    }
    Some(items)
}

/// `clients:` in flow style, or in a shape that is not a list: parsed as one piece.
fn read_whole_section(
    path: &Path,
    section: &[&str],
    key: usize,
    vars: &BTreeMap<String, String>,
    sink: &mut dyn FnMut(ClientRecord),
) -> Result<(), SourceError> {
    let at_key = |index: u64| Location {
        file: path.to_path_buf(),
        line: Some(key as u64 + 1),
        index,
    };
    let filled = fill(&section.join("\n"), vars, Syntax::Yaml);
    let parsed = yaml_serde::from_str::<yaml_serde::Value>(&filled)
        .map_err(|err| SourceError::new(at_key(0), None, yaml_problem(&err, key as u64)))?;
    let clients = match parsed {
        yaml_serde::Value::Mapping(mut map) => map.remove("clients"),
        _ => None,
    };
    let items = match clients.map(json) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(SourceError::new(
                at_key(0),
                None,
                format!(
                    "`clients` must be a list of clients, not {}",
                    kind_of(&other)
                ),
            ));
        }
    };
    for (index, item) in items.into_iter().enumerate() {
        sink(ClientRecord {
            location: at_key(index as u64),
            outcome: client_json(item),
        });
    }
    Ok(())
}

fn client_value(value: yaml_serde::Value) -> Outcome {
    client_json(json(value))
}

fn client_json(value: Value) -> Outcome {
    match value {
        Value::Object(map) => convert::convert(map.into_iter().collect()),
        other => Outcome::Invalid {
            external_id: None,
            message: format!(
                "a client must be a mapping of its fields, not {}",
                kind_of(&other)
            ),
        },
    }
}

/// A YAML value as JSON: tags dropped, scalar keys as text. Keys that are lists or mappings
/// never name a client field, so they are left out.
fn json(value: yaml_serde::Value) -> Value {
    use yaml_serde::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(json).collect()),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    Y::Null => "null".to_owned(),
                    _ => continue,
                };
                out.insert(key, json(v));
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => json(tagged.value),
    }
}

/// A YAML parse error with its line numbers moved from the piece to the file (`offset` lines
/// precede the piece). libyaml's messages name the problem and its position, never a value.
fn yaml_problem(err: &yaml_serde::Error, offset: u64) -> String {
    format!("malformed YAML: {}", shift_lines(&err.to_string(), offset))
}

/// Adds `offset` to every `line N` in `message`.
fn shift_lines(message: &str, offset: u64) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("line ") {
        let (head, tail) = rest.split_at(at + "line ".len());
        out.push_str(head);
        let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
        match tail[..digits].parse::<u64>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&tail[..digits]),
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

fn at_start(path: &Path) -> Location {
    Location {
        file: path.to_path_buf(),
        line: None,
        index: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_key_is_found_only_at_top_level() {
        assert_eq!(clients_key("clients:"), Some(""));
        assert_eq!(clients_key("clients:   # the apps"), Some(""));
        assert_eq!(clients_key("\"clients\" : []"), Some("[]"));
        assert_eq!(clients_key("  clients:"), None);
        assert_eq!(clients_key("clientsx:"), None);
        assert_eq!(clients_key("clients:x"), None);
    }

    #[test]
    fn block_items_split_at_their_own_indentation() {
        let text =
            "clients:\n  # note\n  - name: a\n    callbacks:\n      - x\n  - name: b\nother: 1";
        let lines: Vec<&str> = text.split('\n').collect();
        let end = section_end(&lines, 0);
        assert_eq!(end, 6);
        assert_eq!(block_items(&lines, 0, end), Some(vec![(2, 5), (5, 6)]));
        let zero = "clients:\n- name: a\n  callbacks:\n  - x\n- name: b\nnext:";
        let lines: Vec<&str> = zero.split('\n').collect();
        let end = section_end(&lines, 0);
        assert_eq!(block_items(&lines, 0, end), Some(vec![(1, 4), (4, 5)]));
        let mapping: Vec<&str> = "clients:\n  a: 1".split('\n').collect();
        assert_eq!(block_items(&mapping, 0, 2), None);
    }

    #[test]
    fn line_numbers_move_to_the_file() {
        assert_eq!(
            shift_lines(
                "did not find expected key at line 2 column 5, while parsing at line 1 column 3",
                10
            ),
            "did not find expected key at line 12 column 5, while parsing at line 11 column 3"
        );
        assert_eq!(shift_lines("no line here", 3), "no line here");
    }
}
