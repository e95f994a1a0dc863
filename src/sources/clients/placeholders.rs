//! auth0-deploy-cli keyword replacement (`AUTH0_KEYWORD_REPLACE_MAPPINGS`), filled from a
//! client source's `vars`.
//!
//! deploy-cli replaces keywords in a file's *text* before parsing it, and only text-level
//! replacement reproduces what it imports: `name: ##ENV##` in YAML is the string `prod` there
//! (replaced first), but a YAML comment if parsed first. So [`fill`] works on text, the way
//! deploy-cli's `keywordReplace` does:
//!
//! * `##KEY##` is replaced by the value as it is, wherever it stands.
//! * `@@KEY@@` — with the double or single quotes around it, when it has them — is replaced by
//!   the value JSON-encoded (a string becomes `"value"`). deploy-cli mappings can be arrays;
//!   manifest `vars` are strings, so a value that is itself a JSON array or object
//!   (`'["https://a", "https://b"]'`) is inserted as that JSON, which is what the same
//!   mapping would have done in deploy-cli.
//!
//! A keyword no `vars` entry names is left in the text, but made to survive parsing as a
//! string (deploy-cli's own `wrapArrayReplaceMarkersInQuotes` does the same for `@@`): an
//! unquoted `@@KEY@@` cannot start a YAML scalar and would fail the whole file, and an
//! unquoted `##KEY##` value would silently become a YAML comment. The reader then finds it with
//! [`unfilled`] in the fields it maps and reports the record invalid, naming the key; a
//! keyword in a field it never reads (deploy-cli exports `tenant: ##AUTH0_TENANT_NAME##`)
//! does not matter, as in deploy-cli, which drops fields that hold unresolved keywords.

use std::collections::BTreeMap;

use serde_json::Value;

/// Which grammar the text is in, for telling strings and comments from bare values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    /// A deploy-cli directory's `clients/*.json`.
    Json,
    /// A deploy-cli `tenant.yaml`.
    Yaml,
}

/// Fills every `##KEY##` / `@@KEY@@` whose KEY is in `vars` (see the module docs).
pub(crate) fn fill(text: &str, vars: &BTreeMap<String, String>, syntax: Syntax) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lexer = Lexer::new(syntax);
    let mut i = 0;
    while i < text.len() {
        // Keywords inside a YAML comment are left alone: nothing reads them.
        if !lexer.in_comment()
            && let Some((replacement, end)) = replacement_at(text, i, vars, &lexer)
        {
            for c in replacement.chars() {
                lexer.feed(c);
            }
            out.push_str(&replacement);
            i = end;
            continue;
        }
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        lexer.feed(c);
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// The keywords (`##KEY##`, `@@KEY@@`) left in the strings of `value`, in order, each once.
pub(crate) fn unfilled(value: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(value, &mut found);
    found
}

/// Fills keywords inside an already parsed JSON value (a Management API export, where every
/// keyword can only stand inside a string): `##KEY##` within strings, and a string that is
/// exactly `@@KEY@@` becomes the encoded value.
pub(crate) fn fill_value(value: &mut Value, vars: &BTreeMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some((Marker::At, key, end)) = token_at(s, 0)
                && end == s.len()
                && let Some(var) = vars.get(key)
            {
                *value = encoded_value(var);
                return;
            }
            if s.contains("##") {
                let mut out = String::with_capacity(s.len());
                let mut i = 0;
                while i < s.len() {
                    if let Some((Marker::Hash, key, end)) = token_at(s, i)
                        && let Some(var) = vars.get(key)
                    {
                        out.push_str(var);
                        i = end;
                        continue;
                    }
                    let Some(c) = s[i..].chars().next() else {
                        break;
                    };
                    out.push(c);
                    i += c.len_utf8();
                }
                *s = out;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill_value(v, vars)),
        Value::Object(map) => map.values_mut().for_each(|v| fill_value(v, vars)),
        _ => {}
    }
}

fn collect(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(s) => {
            let mut i = 0;
            while i < s.len() {
                if let Some((_, _, end)) = token_at(s, i) {
                    let token = s[i..end].to_owned();
                    if !found.contains(&token) {
                        found.push(token);
                    }
                    i = end;
                } else {
                    i += s[i..].chars().next().map_or(1, char::len_utf8);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, found)),
        Value::Object(map) => map.values().for_each(|v| collect(v, found)),
        _ => {}
    }
}

/// The name inside a keyword token (`##ENV##` → `ENV`).
pub(crate) fn key_of(token: &str) -> &str {
    token.get(2..token.len().saturating_sub(2)).unwrap_or(token)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    /// `##KEY##`: spliced as a string.
    Hash,
    /// `@@KEY@@`: inserted as JSON.
    At,
}

/// Characters a keyword name may use. deploy-cli accepts any mapping key, but names with
/// other characters would need regex escaping there and never appear in practice; keeping to
/// these means `## Heading ##` in a description is not mistaken for a keyword.
fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// The keyword starting at byte `i` of `text`: its marker, its key and the byte after it.
fn token_at(text: &str, i: usize) -> Option<(Marker, &str, usize)> {
    let bytes = text.as_bytes();
    let marker = match bytes.get(i..i + 2)? {
        b"##" => Marker::Hash,
        b"@@" => Marker::At,
        _ => return None,
    };
    let start = i + 2;
    let mut j = start;
    while j < bytes.len() && is_key_byte(bytes[j]) {
        j += 1;
    }
    let closing = match marker {
        Marker::Hash => b"##",
        Marker::At => b"@@",
    };
    if j > start && bytes.get(j..j + 2) == Some(closing) {
        // Key bytes are ASCII, so `start..j` is on character boundaries.
        Some((marker, text.get(start..j)?, j + 2))
    } else {
        None
    }
}

/// What replaces the text at byte `i`, and the byte after what it replaces; `None` to copy the
/// character as it is.
fn replacement_at(
    text: &str,
    i: usize,
    vars: &BTreeMap<String, String>,
    lexer: &Lexer,
) -> Option<(String, usize)> {
    let bytes = text.as_bytes();
    // `"@@KEY@@"` / `'@@KEY@@'`: the quotes go too (deploy-cli's patterns include them).
    if let Some(&quote) = bytes.get(i)
        && (quote == b'"' || quote == b'\'')
        && let Some((Marker::At, key, end)) = token_at(text, i + 1)
        && bytes.get(end) == Some(&quote)
        && let Some(var) = vars.get(key)
    {
        return Some((encoded(var), end + 1));
    }
    let (marker, key, end) = token_at(text, i)?;
    let token = &text[i..end];
    match (marker, vars.get(key)) {
        (Marker::Hash, Some(var)) => Some((var.clone(), end)),
        (Marker::At, Some(var)) => Some((encoded(var), end)),
        // Unknown keywords: keep them, as strings, where they would otherwise break the parse
        // or vanish into a comment.
        (_, None) if lexer.bare_value_start() => Some((format!("\"{token}\""), end)),
        (_, None) => None,
    }
}

/// A `@@KEY@@` value as JSON text.
fn encoded(var: &str) -> String {
    let value = encoded_value(var);
    serde_json::to_string(&value).unwrap_or_else(|_| "null".to_owned())
}

/// A `@@KEY@@` value: a JSON array or object stays one, anything else is a string.
fn encoded_value(var: &str) -> Value {
    let trimmed = var.trim_start();
    if (trimmed.starts_with('[') || trimmed.starts_with('{'))
        && let Ok(value) = serde_json::from_str::<Value>(var)
    {
        return value;
    }
    Value::String(var.to_owned())
}

/// Just enough of JSON's and YAML's lexical structure to know whether a position is inside a
/// string or comment, or where a bare value would start. YAML is followed line by line: a
/// quoted scalar spanning lines is rare in deploy-cli exports, and misjudging one only decides
/// whether an *unknown* keyword is quoted.
// The flags are the lexer's state, set and read one character at a time in `feed`; the
// escape and `''` flags hold alongside the quote ones, so they are no one enum.
#[allow(clippy::struct_excessive_bools)]
struct Lexer {
    syntax: Syntax,
    in_double: bool,
    in_single: bool,
    escape: bool,
    /// A single-quoted YAML scalar just closed: a `'` right now is the `''` escape.
    just_closed_single: bool,
    in_comment: bool,
    /// The previous character.
    prev: Option<char>,
    /// The last non-blank character of the line outside strings (YAML), or of the text
    /// (JSON).
    last_sig: Option<char>,
}

impl Lexer {
    fn new(syntax: Syntax) -> Self {
        Self {
            syntax,
            in_double: false,
            in_single: false,
            escape: false,
            just_closed_single: false,
            in_comment: false,
            prev: None,
            last_sig: None,
        }
    }

    fn in_comment(&self) -> bool {
        self.in_comment
    }

    /// Whether a token here stands alone as a value, outside any string: the start of a JSON
    /// value, or of a YAML node after `key:`, `- `, `[`, `,` or at the start of a line.
    fn bare_value_start(&self) -> bool {
        if self.in_double || self.in_single || self.in_comment {
            return false;
        }
        match self.syntax {
            Syntax::Json => true,
            Syntax::Yaml => {
                let after_indicator = self
                    .last_sig
                    .is_none_or(|c| matches!(c, ':' | '-' | '[' | '{' | ',' | '?'));
                let separated = self
                    .prev
                    .is_none_or(|c| c.is_whitespace() || matches!(c, '[' | '{' | ','));
                after_indicator && separated
            }
        }
    }

    /// Advances through a double-quoted string, the same in JSON and YAML (backslash
    /// escapes); true when `c` closed it.
    fn feed_double(&mut self, c: char) -> bool {
        if self.escape {
            self.escape = false;
        } else if c == '\\' {
            self.escape = true;
        } else if c == '"' {
            self.in_double = false;
            return true;
        }
        false
    }

    fn feed(&mut self, c: char) {
        let just_closed_single = std::mem::take(&mut self.just_closed_single);
        match self.syntax {
            Syntax::Json => {
                if self.in_double {
                    self.feed_double(c);
                } else if c == '"' {
                    self.in_double = true;
                }
                if !c.is_whitespace() {
                    self.last_sig = Some(c);
                }
            }
            Syntax::Yaml => {
                if c == '\n' {
                    self.in_double = false;
                    self.in_single = false;
                    self.escape = false;
                    self.in_comment = false;
                    self.last_sig = None;
                    self.prev = Some(c);
                    return;
                }
                if self.in_comment {
                } else if self.in_double {
                    if self.feed_double(c) {
                        self.last_sig = Some(c);
                    }
                } else if self.in_single {
                    if c == '\'' {
                        self.in_single = false;
                        self.just_closed_single = true;
                        self.last_sig = Some(c);
                    }
                } else if c == '\'' && just_closed_single {
                    // `''` inside a single-quoted scalar: still inside.
                    self.in_single = true;
                } else if c == '#' && self.prev.is_none_or(char::is_whitespace) {
                    self.in_comment = true;
                } else if (c == '"' || c == '\'') && self.bare_value_start() {
                    if c == '"' {
                        self.in_double = true;
                    } else {
                        self.in_single = true;
                    }
                } else if !c.is_whitespace() {
                    self.last_sig = Some(c);
                }
            }
        }
        self.prev = Some(c);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn hash_keywords_splice_the_value_anywhere() {
        let v = vars(&[("ENV", "prod")]);
        assert_eq!(
            fill(
                "url: https://##ENV##.acme.com/cb\nname: ##ENV##",
                &v,
                Syntax::Yaml
            ),
            "url: https://prod.acme.com/cb\nname: prod"
        );
        assert_eq!(
            fill(r#"{"u": "https://##ENV##.acme.com"}"#, &v, Syntax::Json),
            r#"{"u": "https://prod.acme.com"}"#
        );
    }

    #[test]
    fn at_keywords_insert_json_replacing_their_quotes() {
        let v = vars(&[
            ("NAME", "Acme \"Web\""),
            ("CBS", r#"["https://a", "https://b"]"#),
        ]);
        assert_eq!(
            fill(
                r#"{"name": "@@NAME@@", "callbacks": @@CBS@@}"#,
                &v,
                Syntax::Json
            ),
            r#"{"name": "Acme \"Web\"", "callbacks": ["https://a","https://b"]}"#
        );
        assert_eq!(
            fill("callbacks: @@CBS@@\nname: '@@NAME@@'", &v, Syntax::Yaml),
            "callbacks: [\"https://a\",\"https://b\"]\nname: \"Acme \\\"Web\\\"\""
        );
    }

    #[test]
    fn unknown_keywords_stay_but_survive_parsing_as_strings() {
        let v = vars(&[]);
        let yaml = "a: ##X##\nb: @@Y@@\nc: https://##X##.x\nd: \"##X##\"\n- ##X## # ##Z##\n";
        assert_eq!(
            fill(yaml, &v, Syntax::Yaml),
            "a: \"##X##\"\nb: \"@@Y@@\"\nc: https://##X##.x\nd: \"##X##\"\n- \"##X##\" # ##Z##\n"
        );
        assert_eq!(
            fill(r#"{"a": @@Y@@, "b": "x ##X## @@Y@@"}"#, &v, Syntax::Json),
            r#"{"a": "@@Y@@", "b": "x ##X## @@Y@@"}"#
        );
        let parsed: yaml_serde::Value =
            yaml_serde::from_str(&fill("a: ##X##\nb: @@Y@@\n", &v, Syntax::Yaml)).expect("yaml");
        assert_eq!(parsed["a"].as_str(), Some("##X##"));
        assert_eq!(parsed["b"].as_str(), Some("@@Y@@"));
    }

    #[test]
    fn yaml_single_quote_escapes_and_comments() {
        let v = vars(&[]);
        assert_eq!(
            fill("a: 'it''s ##X##'\n# ##X##\n", &v, Syntax::Yaml),
            "a: 'it''s ##X##'\n# ##X##\n"
        );
    }

    #[test]
    fn headings_and_stray_markers_are_not_keywords() {
        let v = vars(&[("A", "1")]);
        for text in ["## Title ##", "####", "@@ @@", "##A", "a@@b", "###A#"] {
            assert_eq!(fill(text, &v, Syntax::Json), text, "{text}");
        }
        assert_eq!(fill("###A##", &v, Syntax::Json), "#1");
    }

    #[test]
    fn unfilled_lists_tokens_once_in_order() {
        let value = json!({"a": ["##X## and @@Y@@", {"b": "##X##"}], "c": 1});
        assert_eq!(unfilled(&value), ["##X##", "@@Y@@"]);
        assert_eq!(key_of("##X##"), "X");
        assert_eq!(key_of("@@LONG_KEY@@"), "LONG_KEY");
    }

    #[test]
    fn fill_value_works_inside_parsed_strings() {
        let v = vars(&[("ENV", "prod"), ("CBS", r#"["https://a"]"#)]);
        let mut value = json!({"u": ["https://##ENV##.x/##OTHER##"], "c": "@@CBS@@", "n": 3});
        fill_value(&mut value, &v);
        assert_eq!(
            value,
            json!({"u": ["https://prod.x/##OTHER##"], "c": ["https://a"], "n": 3})
        );
    }

    proptest! {
        #[test]
        fn fill_never_panics(text in ".{0,200}", value in ".{0,20}") {
            let v = vars(&[("A", value.as_str()), ("B-1.x", "[1]")]);
            let _ = fill(&text, &v, Syntax::Yaml);
            let _ = fill(&text, &v, Syntax::Json);
            let mut json = Value::String(text.clone());
            fill_value(&mut json, &v);
            let _ = unfilled(&json);
        }

        #[test]
        fn text_without_keywords_is_unchanged(text in "[^#@]{0,200}") {
            let v = vars(&[("A", "x")]);
            prop_assert_eq!(fill(&text, &v, Syntax::Yaml), text.clone());
            prop_assert_eq!(fill(&text, &v, Syntax::Json), text);
        }
    }
}
