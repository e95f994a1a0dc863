//! Container-level behaviour: where records start, what is a record problem and what ends
//! the read.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;

fn id_key(key: &str) -> bool {
    key == "id"
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write test file");
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Reads `bytes` as a file; returns (line, index, id_hint, entries-or-message) per record.
type Seen = Vec<(Option<u64>, u64, Option<String>, Result<usize, String>)>;

fn read_bytes(bytes: &[u8]) -> (Result<JsonSummary, SourceError>, Seen) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "export.json", bytes);
    let mut seen = Vec::new();
    let result = read_json_records(&path, id_key, &mut |r| {
        seen.push((
            r.location.line,
            r.location.index,
            r.id_hint,
            r.entries.map(|e| e.len()),
        ));
    });
    (result, seen)
}

#[test]
fn ndjson_with_bom_crlf_and_blank_lines() {
    // The second BOM is what `cat a.ndjson b.ndjson` leaves mid-file.
    let text = b"\xEF\xBB\xBF{\"id\":\"a\",\"x\":1}\r\n\r\n   \n\xEF\xBB\xBF{\"id\":\"b\"}\r\n\n";
    let (result, seen) = read_bytes(text);
    let summary = result.expect("readable");
    assert_eq!(
        summary,
        JsonSummary {
            format: Some(JsonFormat::Ndjson),
            records: 2
        }
    );
    assert_eq!(seen[0], (Some(1), 0, Some("a".into()), Ok(2)));
    assert_eq!(seen[1], (Some(4), 1, Some("b".into()), Ok(1)));
}

#[test]
fn ndjson_leading_blank_lines_keep_line_numbers() {
    let (_, seen) = read_bytes(b"\n\n  {\"id\":\"a\"}\n{\"id\": }\n");
    assert_eq!(seen[0].0, Some(3));
    assert_eq!(seen[1].0, Some(4));
    let message = seen[1].3.clone().expect_err("broken line");
    assert!(
        message.starts_with("malformed JSON (expected value) at column 8"),
        "{message}"
    );
}

#[test]
fn duplicate_keys_are_kept_in_order() {
    let (_, seen) = read_bytes(b"{\"id\":\"a\",\"id\":\"b\"}");
    assert_eq!(seen[0].3, Ok(2));
    assert_eq!(seen[0].2.as_deref(), Some("a"));
}

#[test]
fn truncated_last_line_keeps_its_id() {
    let (result, seen) = read_bytes(b"{\"id\":\"a\"}\n{\"id\": \"x\", \"ema");
    assert_eq!(result.expect("readable").records, 2);
    let (line, index, id, entries) = &seen[1];
    assert_eq!((*line, *index, id.as_deref()), (Some(2), 1, Some("x")));
    let message = entries.clone().expect_err("truncated");
    assert!(message.starts_with("record is truncated"), "{message}");
}

#[test]
fn non_objects_and_trailing_content_are_record_problems() {
    let (_, seen) =
        read_bytes(b"42\n\"secret-ish value\"\n[1,2]\nnull\n{\"id\":\"a\"} {\"id\":\"b\"}\n");
    let messages: Vec<String> = seen
        .into_iter()
        .map(|s| s.3.expect_err("not a record"))
        .collect();
    assert_eq!(messages[0], "record is not a JSON object (found a number)");
    assert_eq!(messages[1], "record is not a JSON object (found a string)");
    assert_eq!(messages[2], "record is not a JSON object (found an array)");
    assert_eq!(messages[3], "record is not a JSON object (found null)");
    assert!(
        messages[4].contains("trailing characters"),
        "{}",
        messages[4]
    );
    assert!(messages.iter().all(|m| !m.contains("secret-ish")));
}

#[test]
fn array_elements_know_their_lines() {
    let text = b"\xEF\xBB\xBF\n[\r\n  {\"id\": \"a\",\n   \"y\": [1, 2]},\n  {\"id\": \"b\"}, \"str\",\n\n  {}\n]\n";
    let (result, seen) = read_bytes(text);
    assert_eq!(
        result.expect("readable"),
        JsonSummary {
            format: Some(JsonFormat::Array),
            records: 4
        }
    );
    assert_eq!(seen[0], (Some(3), 0, Some("a".into()), Ok(2)));
    assert_eq!(seen[1], (Some(5), 1, Some("b".into()), Ok(1)));
    assert_eq!(
        seen[2],
        (
            Some(5),
            2,
            None,
            Err("record is not a JSON object (found a string)".into())
        )
    );
    assert_eq!(seen[3], (Some(7), 3, None, Ok(0)));
}

#[test]
fn array_syntax_error_ends_the_read_naming_the_element() {
    let (result, seen) = read_bytes(b"[\n{\"id\":\"a\"},\n{\"id\":\"b\", \"x\": tru}\n]");
    assert_eq!(seen.len(), 1);
    let err = result.expect_err("unreadable after the error");
    assert_eq!(err.location.line, Some(3));
    assert_eq!(err.location.index, 1);
    assert_eq!(err.external_id.as_deref(), Some("b"));
    assert!(err.message.contains("at line 3 column"), "{}", err.message);
    assert!(err.message.contains("cannot be read"), "{}", err.message);
}

#[test]
fn truncated_array_and_trailing_content_are_errors() {
    let (result, seen) = read_bytes(b"[{\"id\":\"a\"},\n");
    assert_eq!(seen.len(), 1);
    let err = result.expect_err("truncated");
    assert!(
        err.message.starts_with("record is truncated"),
        "{}",
        err.message
    );
    assert_eq!(err.location.index, 1);

    let (result, seen) = read_bytes(b"[{\"id\":\"a\"}]\n[{\"id\":\"b\"}]\n");
    assert_eq!(seen.len(), 1);
    let err = result.expect_err("two arrays");
    assert!(
        err.message
            .contains("unexpected content after the JSON array at line 2"),
        "{}",
        err.message
    );
}

#[test]
fn empty_and_whitespace_files_have_no_records() {
    for text in [&b""[..], b"\xEF\xBB\xBF", b"\n \r\n\t"] {
        let (result, seen) = read_bytes(text);
        assert_eq!(
            result.expect("readable"),
            JsonSummary {
                format: None,
                records: 0
            }
        );
        assert!(seen.is_empty());
    }
    let (result, seen) = read_bytes(b" [ ] ");
    assert_eq!(result.expect("readable").records, 0);
    assert!(seen.is_empty());
}

#[test]
fn gzip_is_transparent_for_both_containers() {
    let (_, seen) = read_bytes(&gzip(b"\xEF\xBB\xBF{\"id\":\"a\"}\n{\"id\":\"b\"}\n"));
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].0, Some(2));
    let (result, seen) = read_bytes(&gzip(b"[{\"id\":\"a\"},\n{\"id\":\"b\"}]"));
    assert_eq!(result.expect("readable").format, Some(JsonFormat::Array));
    assert_eq!(seen[1].0, Some(2));
}

#[test]
fn broken_gzip_is_an_error() {
    let mut bytes = gzip(&b"{\"id\":\"a\"}\n".repeat(2000));
    bytes.truncate(bytes.len() / 2);
    let (result, _) = read_bytes(&bytes);
    let err = result.expect_err("broken gzip");
    assert!(
        err.message.starts_with("cannot read export"),
        "{}",
        err.message
    );
}

#[test]
fn missing_file_is_an_error() {
    let mut seen = 0;
    let err = read_json_records(Path::new("/nonexistent/users.ndjson"), id_key, &mut |_| {
        seen += 1;
    })
    .expect_err("missing");
    assert!(
        err.message
            .starts_with("cannot open export: No such file or directory"),
        "{}",
        err.message
    );
    assert!(err.to_string().contains("/nonexistent/users.ndjson"));
}

#[test]
fn debug_shows_keys_but_no_values() {
    let record = JsonRecord {
        location: Location {
            file: "p.ndjson".into(),
            line: Some(1),
            index: 0,
        },
        entries: Ok(vec![(
            "passwordHash".into(),
            Value::String("$2b$10$secret".into()),
        )]),
        id_hint: None,
    };
    let shown = format!("{record:?}");
    assert!(
        shown.contains("passwordHash") && !shown.contains("secret"),
        "{shown}"
    );
}

/// Reads `bytes` with [`read_json_records_in`] under `key`.
fn read_in(bytes: &[u8], key: &str) -> (Result<DocumentsSummary, SourceError>, Seen) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "export.json", bytes);
    let mut seen = Vec::new();
    let result = read_json_records_in(&path, key, id_key, &mut |r| {
        seen.push((
            r.location.line,
            r.location.index,
            r.id_hint,
            r.entries.map(|e| e.len()),
        ));
    });
    (result, seen)
}

#[test]
fn documents_stream_the_named_array_with_lines() {
    // The shape `firebase auth:export` writes: `{"users": [` then pretty-printed users.
    let text =
        b"\xEF\xBB\xBF{\"users\": [\n{\n  \"id\": \"a\",\n  \"x\": 1\n},\n{\n  \"id\": \"b\"\n}]}";
    let (result, seen) = read_in(text, "users");
    assert_eq!(
        result.expect("readable"),
        DocumentsSummary {
            format: Some(JsonFormat::Documents),
            documents: 1,
            records: 2
        }
    );
    assert_eq!(seen[0], (Some(2), 0, Some("a".into()), Ok(2)));
    assert_eq!(seen[1], (Some(6), 1, Some("b".into()), Ok(1)));
}

#[test]
fn concatenated_documents_blank_lines_and_other_keys() {
    let text = b"{\"NextToken\": {\"deep\": [1]}, \"Users\": [{\"id\": \"a\"}]}\n\n\n{\"Users\": [],\"PaginationToken\":\"t\"}{\"Users\":\n[{\"id\":\"b\"}, 7]}\n";
    let (result, seen) = read_in(text, "users");
    assert_eq!(
        result.expect("readable"),
        DocumentsSummary {
            format: Some(JsonFormat::Documents),
            documents: 3,
            records: 3
        }
    );
    assert_eq!(seen[0], (Some(1), 0, Some("a".into()), Ok(1)));
    assert_eq!(seen[1], (Some(5), 1, Some("b".into()), Ok(1)));
    assert_eq!(
        seen[2],
        (
            Some(5),
            2,
            None,
            Err("record is not a JSON object (found a number)".into())
        )
    );
}

#[test]
fn documents_accept_a_bare_array_and_null() {
    let (result, seen) = read_in(b"[{\"id\":\"a\"}]", "users");
    assert_eq!(result.expect("readable").format, Some(JsonFormat::Array));
    assert_eq!(seen.len(), 1);
    let (result, seen) = read_in(b"{\"users\": null}", "users");
    assert_eq!(result.expect("readable").records, 0);
    assert!(seen.is_empty());
    let (result, _) = read_in(b"  \n", "users");
    assert_eq!(result.expect("readable").format, None);
}

#[test]
fn documents_without_the_array_or_with_the_wrong_shape_are_errors() {
    let (result, _) = read_in(b"{\"users\": []}\n\n{\"id\": \"a\"}\n", "users");
    let err = result.expect_err("second document has no array");
    assert_eq!(err.location.line, Some(3));
    assert!(
        err.message
            .contains("starting at line 3 has no `users` array"),
        "{}",
        err.message
    );

    let (result, _) = read_in(b"{\"users\": \"s3cret\"}", "users");
    let err = result.expect_err("not an array");
    assert!(
        err.message
            .starts_with("`users` must be an array of records, not a string"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("s3cret"));

    let (result, _) = read_in(b"{\"users\": []} 42", "users");
    let err = result.expect_err("not an object");
    assert!(
        err.message
            .starts_with("expected a JSON object holding a `users` array at line 1"),
        "{}",
        err.message
    );
}

#[test]
fn a_document_cut_off_in_an_element_names_the_record() {
    let text = b"{\"users\": [\n  {\"id\": \"a\"},\n  {\"id\": \"b\",\n   \"email\": \"b@exa";
    let (result, seen) = read_in(text, "users");
    assert_eq!(seen.len(), 1);
    let err = result.expect_err("truncated");
    assert_eq!(err.location.line, Some(3));
    assert_eq!(err.location.index, 1);
    assert_eq!(err.external_id.as_deref(), Some("b"));
    assert!(
        err.message.starts_with("record is truncated"),
        "{}",
        err.message
    );
    assert!(err.message.contains("cannot be read"), "{}", err.message);

    // Cut off between elements, or before the closing brace.
    let (result, _) = read_in(b"{\"users\": [{\"id\": \"a\"},\n", "users");
    assert!(result.is_err());
    let (result, seen) = read_in(b"{\"users\": [{\"id\": \"a\"}]\n", "users");
    assert_eq!(seen.len(), 1);
    let err = result.expect_err("no closing brace");
    assert!(
        err.message
            .starts_with("the document starting at line 1 is truncated"),
        "{}",
        err.message
    );
}

#[test]
fn first_content_byte_skips_bom_whitespace_and_gzip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = write(dir.path(), "a.csv", b"\xEF\xBB\xBF\n id,x\n");
    assert_eq!(first_content_byte(&plain).expect("readable"), Some(b'i'));
    let zipped = write(dir.path(), "b.json.gz", &gzip(b"  {\"users\":[]}"));
    assert_eq!(first_content_byte(&zipped).expect("readable"), Some(b'{'));
    let empty = write(dir.path(), "c.json", b"");
    assert_eq!(first_content_byte(&empty).expect("readable"), None);
    assert!(first_content_byte(Path::new("/nonexistent/x.json")).is_err());
}
