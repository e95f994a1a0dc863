//! Issue 9, item 4: ids, names, emails, source names, redirect URIs and the reasons that quote
//! them come from exports and manifests, and reach the terminal and pull-request comments
//! escaped for the medium. An export and a manifest full of hostile values go through
//! `validate`, `plan` (text and markdown), `show`, `apply` and a failing plan, and every output
//! is checked: no raw control or bidi character, no line that a value started, every fenced
//! block closed by its own fence, no HTML but the renderer's, no table row split.

use serde_json::json;

use super::common::{Emulator, Workdir, output_text};

/// Put after every hostile prefix: a newline and a closing fence, HTML that would end the
/// `<details>` and add a heading, a backtick and a table pipe, 7-bit and C1 ANSI escapes, a
/// carriage return and a right-to-left override.
const INJECT: &str = "\n```\n</details>\n<h1>FORGED</h1>\n`|\u{1b}[31m\u{9b}0m\r\u{202e}";

/// The same for TOML basic strings (the manifest's source names).
const INJECT_TOML: &str = r"\n```\n</details>\n<h1>FORGED</h1>\n`|\u001B[31m\u009B0m\r\u202E";

/// Lines a value could start by smuggling a newline.
const FORGED_STARTS: [&str; 4] = ["```", "</details>", "<h1>", "`|"];

fn hostile(prefix: &str) -> String {
    format!("{prefix}{INJECT}")
}

/// An Auth0 users export with a hostile id, name and metadata key on a user that is created,
/// on one skipped for having no email, and on one invalid for its email; and an Auth0
/// clients export with a hostile client id, name and redirect URI.
fn workdir(on_invalid: &str) -> Workdir {
    let w = Workdir::new();
    let users = [
        json!({
            "user_id": hostile("auth0|created"),
            "email": "created@example.com",
            "name": hostile("Ada"),
            "given_name": hostile("Ada"),
            "app_metadata": { hostile("plan"): hostile("pro") },
        }),
        json!({
            "user_id": hostile("sms|skipped"),
            "phone_number": "+15550100000",
        }),
        json!({
            "user_id": hostile("auth0|invalid"),
            "email": hostile("bad") + "@example.com",
        }),
    ];
    let users: Vec<String> = users.iter().map(std::string::ToString::to_string).collect();
    w.write("users.ndjson", &(users.join("\n") + "\n"));
    let clients = json!([
        {
            "name": hostile("Docs"),
            "client_id": hostile("client"),
            "app_type": "spa",
            "callbacks": ["https://docs.example/callback"],
        },
        {
            "name": "Broken",
            "client_id": "broken-client",
            "app_type": "spa",
            "callbacks": [hostile("https://docs.example/")],
        },
    ]);
    w.write("clients.json", &clients.to_string());
    w.write(
        "migration.toml",
        &format!(
            r#"
[target]
organization = "acme"

[policy]
on_invalid = "{on_invalid}"

[[users]]
name = "users{INJECT_TOML}"
provider = "auth0"
path = "users.ndjson"

[[client_sources]]
name = "apps{INJECT_TOML}"
provider = "auth0"
path = "clients.json"
"#
        ),
    );
    w
}

/// Characters that must never reach a terminal or a comment raw (a line break only as the
/// output's own line separator).
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
        )
}

/// Terminal output: no raw control or bidi character and no line a value started.
fn assert_terminal_safe(what: &str, text: &str) {
    if let Some(c) = text.chars().find(|&c| is_unsafe(c)) {
        panic!("{what}: raw {c:?} in the output:\n{text}");
    }
    for line in text.lines() {
        let start = line.trim_start();
        assert!(
            !FORGED_STARTS.iter().any(|f| start.starts_with(f)),
            "{what}: a value forged the line {line:?} in:\n{text}"
        );
    }
}

/// Markdown: no raw control or bidi character; every fenced block closed by a fence of its
/// own length and holding only diff lines; outside code, no HTML but the renderer's tags and
/// as many `</details>` as `<details>`; every table row with its table's number of cells.
fn assert_markdown_sound(what: &str, md: &str) {
    if let Some(c) = md.chars().find(|&c| is_unsafe(c)) {
        panic!("{what}: raw {c:?} in the markdown:\n{md}");
    }
    let mut prose = String::new();
    let mut fence: Option<usize> = None;
    let mut blocks = 0;
    for line in md.lines() {
        let ticks = line.chars().take_while(|&c| c == '`').count();
        match fence {
            Some(n) if ticks >= n && line.trim_end().len() == ticks => fence = None,
            Some(_) => assert!(
                line.starts_with(['+', '-', '~', '!', '±']),
                "{what}: a value escaped its diff line: {line:?}\n{md}"
            ),
            None if ticks >= 3 => {
                fence = Some(ticks);
                blocks += 1;
            }
            None => {
                prose.push_str(&without_code_spans(line));
                prose.push('\n');
            }
        }
    }
    assert_eq!(fence, None, "{what}: a fenced block is left open:\n{md}");
    assert!(blocks > 0, "{what}: no change listing:\n{md}");
    let mut bare = prose.clone();
    for tag in [
        "<details open>",
        "<details>",
        "</details>",
        "<summary>",
        "</summary>",
        "<code>",
        "</code>",
    ] {
        bare = bare.replace(tag, "");
    }
    assert!(
        !bare.contains('<'),
        "{what}: raw HTML outside code:\n{prose}"
    );
    assert_eq!(
        prose.matches("<details").count(),
        prose.matches("</details>").count(),
        "{what}: unbalanced <details>:\n{md}"
    );
    let mut columns = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            columns = None;
            continue;
        }
        let pipes = line.replace("\\|", "").matches('|').count();
        assert_eq!(
            *columns.get_or_insert(pipes),
            pipes,
            "{what}: a value split a table row: {line}\n{md}"
        );
    }
}

/// `line` without its inline code spans (CommonMark: a run of n backticks up to the next
/// run of exactly n).
fn without_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let n = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + n..];
        let delim = "`".repeat(n);
        let close = (0..after.len()).find(|&i| {
            after.is_char_boundary(i)
                && after[i..].starts_with(&delim)
                && !after[i + n..].starts_with('`')
                && (i == 0 || !after[..i].ends_with('`'))
        });
        if let Some(i) = close {
            rest = &after[i + n..];
        } else {
            out.push_str(&delim);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Runs the binary in `w` against `emu`; its stderr (status lines, errors) must be safe
/// whatever it printed on stdout. Returns the output and both streams as text.
fn run(w: &Workdir, emu: &Emulator, args: &[&str]) -> (std::process::Output, String) {
    let out = w.cmd(Some(emu)).args(args).output().unwrap();
    assert_terminal_safe(
        &format!("{args:?} (stderr)"),
        &String::from_utf8_lossy(&out.stderr),
    );
    let text = output_text(&out);
    (out, text)
}

#[test]
fn markdown_keeps_hostile_values_inside_code_and_cells() {
    let emu = Emulator::start(&[]);
    let w = workdir("skip");
    let (out, text) = run(
        &w,
        &emu,
        &[
            "plan",
            "-m",
            "migration.toml",
            "--out",
            "plan.json",
            "--format",
            "markdown",
        ],
    );
    assert!(out.status.success(), "{text}");
    let md = String::from_utf8(out.stdout).unwrap();
    assert_markdown_sound("plan --format markdown", &md);
    assert!(md.contains("sms|skipped"), "the skipped list: {md}");
    assert!(md.contains("1 skipped, 2 invalid records"), "{md}");
    for pii in [false, true] {
        let mut args = vec!["show", "plan.json", "--format", "markdown"];
        if pii {
            args.push("--show-pii");
        }
        let (out, text) = run(&w, &emu, &args);
        assert!(out.status.success(), "{text}");
        let md = String::from_utf8(out.stdout).unwrap();
        assert_markdown_sound(&format!("{args:?}"), &md);
        assert!(
            md.contains("<h1>FORGED</h1>"),
            "values are shown verbatim inside code: {md}"
        );
    }
}

#[test]
fn terminal_output_shows_hostile_values_escaped_on_their_own_lines() {
    let emu = Emulator::start(&[]);
    let w = workdir("skip");

    let (out, text) = run(&w, &emu, &["validate", "-m", "migration.toml"]);
    assert!(out.status.success(), "{text}");
    assert_terminal_safe("validate", &text);
    assert!(text.contains("1 record(s) skipped"), "{text}");

    let (out, text) = run(
        &w,
        &emu,
        &["plan", "-m", "migration.toml", "--out", "plan.json"],
    );
    assert!(out.status.success(), "{text}");
    assert_terminal_safe("plan", &text);
    assert!(
        text.contains(r#"+ identity "auth0|created\n```\n</details>\n<h1>FORGED</h1>\n`|\u{1b}[31m\u{9b}0m\r\u{202e}""#),
        "the id is shown in full, escaped: {text}"
    );

    let (out, text) = run(&w, &emu, &["show", "plan.json"]);
    assert!(out.status.success(), "{text}");
    assert_terminal_safe("show", &text);

    // Whatever the tenant does with these values, the apply summary and any failure it lists
    // (the server's message included) stay one line each.
    let (_, text) = run(&w, &emu, &["apply", "plan.json"]);
    assert_terminal_safe("apply", &text);
    assert!(text.contains("Apply complete"), "{text}");
}

#[test]
fn an_invalid_records_error_keeps_its_lines_but_values_cannot_add_any() {
    let emu = Emulator::start(&[]);
    let w = workdir("fail");
    for args in [
        &["plan", "-m", "migration.toml"][..],
        &["validate", "-m", "migration.toml"],
    ] {
        let (out, text) = run(&w, &emu, args);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert_terminal_safe(&format!("{args:?}"), &text);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("invalid record(s); nothing was planned:\n  users.ndjson:3 (record 3), external_id `auth0|invalid\\n```"),
            "one line per invalid record: {stderr}"
        );
    }
}
