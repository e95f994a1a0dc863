//! Escaping untrusted strings for the medium they are printed in. External ids, names, emails,
//! source names, file paths, skip reasons and server messages come from exports, manifests and
//! the API, so any of them may hold a newline that forges a line of output, an escape
//! sequence that rewrites the terminal, a bidi override that reorders what a reviewer reads,
//! or backticks and HTML that break out of a pull-request comment's markdown.
//!
//! - [`terminal`] shows control, bidi and invisible format characters as visible escapes
//!   (`\n`, `\u{202e}`) and leaves everything else as it is; [`terminal_lines`] does the same
//!   but keeps line breaks, for messages whose own structure spans lines.
//! - [`code_span`], [`fence`], [`text`], [`text_with_code`] and [`table_cell`] build
//!   markdown that no content can close or turn into HTML, links or extra table columns.
//!
//! Both borrow when nothing needs escaping: plans list many values and nearly all are plain.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal or a rendered comment as it is: C0 controls, DEL,
/// C1 controls, and the format characters that reorder or hide text (bidi embeddings,
/// overrides, isolates and marks; zero-width space, word joiner and the invisible operators;
/// the byte-order mark; the line and paragraph separators that some viewers break lines at).
/// Zero-width (non-)joiners are left alone: names in several scripts and emoji need them.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
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

/// `s` with every [unsafe](is_unsafe) character shown as an escape: `\n`, `\r`, `\t`, or
/// `\u{…}` in hex. Backslashes are not doubled, so ordinary Windows paths read as before.
pub fn terminal(s: &str) -> Cow<'_, str> {
    escape_where(s, is_unsafe)
}

/// Like [`terminal`], but `\n` is kept: for messages that list one item per line (their
/// values are escaped with [`terminal`] where they are interpolated).
pub fn terminal_lines(s: &str) -> Cow<'_, str> {
    escape_where(s, |c| c != '\n' && is_unsafe(c))
}

fn escape_where(s: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    let Some(first) = s.find(&escape) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ => {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// The longest run of consecutive backticks in `s`.
fn longest_backtick_run(s: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// `s` as a markdown inline code span that shows it verbatim (after [`terminal`] escaping, so
/// it stays on one line). The delimiter is one backtick longer than the longest run inside,
/// so no backtick in `s` can end the span early; a space pads content that starts or ends with
/// a backtick (or with spaces on both ends), because CommonMark strips one such space.
pub fn code_span(s: &str) -> String {
    let s = terminal(s);
    if s.is_empty() {
        return "` `".into();
    }
    let ticks = "`".repeat(longest_backtick_run(&s) + 1);
    let pad = s.starts_with('`')
        || s.ends_with('`')
        || (s.starts_with(' ') && s.ends_with(' ') && !s.chars().all(|c| c == ' '));
    let pad = if pad { " " } else { "" };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// The backtick fence for a fenced code block holding `body`: at least three backticks and
/// longer than any run inside, so no line of `body` can close the block.
pub fn fence(body: &str) -> String {
    "`".repeat((longest_backtick_run(body) + 1).max(3))
}

/// `s` as markdown text outside code: [`terminal`] escaping, the HTML metacharacters as
/// entities (no tags, comments or autolinks), and a backslash before the punctuation that
/// would start code, emphasis, links, images, strikethrough or a table column. `_` is left
/// as it is: it fills field and file names, and inside a word it never starts emphasis.
pub fn text(s: &str) -> Cow<'_, str> {
    let special = |c: char| {
        is_unsafe(c)
            || matches!(
                c,
                '<' | '>' | '&' | '"' | '\\' | '`' | '*' | '[' | ']' | '|' | '~'
            )
    };
    let Some(first) = s.find(special) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\\' | '`' | '*' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if is_unsafe(c) => push_escaped(&mut out, c),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A message that quotes values in backticks (``no email `x` here``) as markdown: each
/// backtick-quoted part becomes a [`code_span`], the rest [`text`]. A value holding backticks
/// may pair them differently than its author meant, but every part is escaped for where it
/// lands, so the worst outcome is a misplaced code span, never markup.
pub fn text_with_code(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, part) in parts.iter().enumerate() {
        // Odd parts follow an opening backtick; the last of them has no closing one when
        // the backticks do not pair up, and its text stays text.
        let quoted = i % 2 == 1;
        if quoted && i + 1 < parts.len() {
            out.push_str(&code_span(part));
        } else {
            if quoted {
                out.push_str("\\`");
            }
            out.push_str(&text(part));
        }
    }
    out
}

/// Markdown (a [`code_span`] or [`text`]) made safe for a table cell: a `|` would start a
/// new column even inside a code span, so it is written `\|`, which GitHub shows as `|`.
pub fn table_cell(markdown: &str) -> Cow<'_, str> {
    if markdown.contains('|') {
        Cow::Owned(markdown.replace('|', "\\|"))
    } else {
        Cow::Borrowed(markdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_values_are_borrowed_and_unchanged() {
        for s in [
            "auth0|5e0c1fa0",
            "Ada Lovelace",
            "ünïcødé 名前 👩‍👩‍👧",
            r"C:\exports\users.csv",
            "",
        ] {
            assert!(matches!(terminal(s), Cow::Borrowed(v) if v == s), "{s}");
        }
        assert!(matches!(text("no email address"), Cow::Borrowed(_)));
        assert!(matches!(table_cell("`auth0-prod`"), Cow::Borrowed(_)));
    }

    #[test]
    fn controls_and_bidi_become_visible() {
        assert_eq!(terminal("a\nb\r\tc"), r"a\nb\r\tc");
        assert_eq!(terminal("\u{1b}[31mred"), r"\u{1b}[31mred");
        assert_eq!(terminal("x\u{9b}31m\u{7f}"), r"x\u{9b}31m\u{7f}");
        assert_eq!(terminal("user\u{202e}gnp.exe"), r"user\u{202e}gnp.exe");
        assert_eq!(
            terminal("a\u{2066}b\u{2069}\u{200f}\u{061c}"),
            r"a\u{2066}b\u{2069}\u{200f}\u{61c}"
        );
        assert_eq!(terminal("ad\u{200b}min\u{feff}"), r"ad\u{200b}min\u{feff}");
        assert_eq!(
            terminal_lines("2 invalid:\n  a\u{1b}\n  b\r"),
            "2 invalid:\n  a\\u{1b}\n  b\\r"
        );
    }

    #[test]
    fn code_spans_outlast_backticks_inside() {
        assert_eq!(code_span("sms|1"), "`sms|1`");
        assert_eq!(code_span("a`b"), "``a`b``");
        assert_eq!(code_span("`x``"), "``` `x`` ```");
        assert_eq!(code_span(" a "), "`  a  `");
        assert_eq!(code_span(""), "` `");
        assert_eq!(
            code_span("x\n```\n</details>"),
            "````x\\n```\\n</details>````"
        );
    }

    #[test]
    fn text_escapes_html_and_markdown() {
        assert_eq!(
            text("</details>\n<h1>pwned</h1>"),
            r"&lt;/details&gt;\n&lt;h1&gt;pwned&lt;/h1&gt;"
        );
        assert_eq!(
            text("[click](https://x) *a* ~~c~~ `d` e|f \\ redirect_uris"),
            r"\[click\](https://x) \*a\* \~\~c\~\~ \`d\` e\|f \\ redirect_uris"
        );
        assert_eq!(text("a & \"b\""), "a &amp; &quot;b&quot;");
    }

    #[test]
    fn quoted_values_become_code_spans() {
        assert_eq!(
            text_with_code("email `ada@example.com` is also used"),
            "email `ada@example.com` is also used"
        );
        assert_eq!(
            text_with_code("`<b>` is not valid <i>"),
            "`<b>` is not valid &lt;i&gt;"
        );
        assert_eq!(text_with_code("a `b` c `d"), "a `b` c \\`d");
        assert_eq!(text_with_code("no quotes"), "no quotes");
    }

    #[test]
    fn table_cells_escape_pipes() {
        assert_eq!(table_cell(&code_span("a|b")), r"`a\|b`");
    }

    /// Where a code span of `delim` backticks opened at byte `open` closes (CommonMark: the
    /// next run of exactly that many backticks), if it does.
    fn span_close(s: &str, open: usize, delim: usize) -> Option<usize> {
        let bytes = s.as_bytes();
        let mut i = open + delim;
        while i < bytes.len() {
            if bytes[i] == b'`' {
                let start = i;
                while i < bytes.len() && bytes[i] == b'`' {
                    i += 1;
                }
                if i - start == delim {
                    return Some(start);
                }
            } else {
                i += 1;
            }
        }
        None
    }

    /// Strings dense in what these functions must handle: controls, bidi and format
    /// characters, backticks, HTML and table metacharacters, among any others.
    fn hostile() -> impl Strategy<Value = String> {
        let c = prop_oneof![
            any::<char>(),
            proptest::char::range('\0', '\u{a0}'),
            proptest::char::range('\u{2000}', '\u{2070}'),
            Just('`'),
            Just('<'),
            Just('|'),
            Just('\u{feff}'),
            Just('\u{061c}'),
        ];
        proptest::collection::vec(c, 0..48).prop_map(String::from_iter)
    }

    proptest! {
        #[test]
        fn terminal_output_has_no_unsafe_characters(s in hostile()) {
            prop_assert!(!terminal(&s).chars().any(is_unsafe));
            prop_assert!(!terminal_lines(&s).chars().any(|c| c != '\n' && is_unsafe(c)));
            prop_assert!(!text(&s).chars().any(is_unsafe));
            prop_assert!(!text_with_code(&s).chars().any(is_unsafe));
        }

        #[test]
        fn safe_strings_are_left_alone(s in "[^\\p{Cc}\\p{Cf}\u{2028}\u{2029}]*") {
            prop_assert_eq!(terminal(&s), s.as_str());
        }

        #[test]
        fn a_code_span_closes_only_at_its_end(s in hostile()) {
            let span = code_span(&s);
            let delim = span.chars().take_while(|&c| c == '`').count();
            prop_assert_eq!(span_close(&span, 0, delim), Some(span.len() - delim));
            prop_assert!(!span.contains('\n'));
        }

        #[test]
        fn no_line_inside_a_fence_can_close_it(s in "[`~a\n ]{0,40}") {
            let fence = fence(&s);
            for line in s.lines() {
                let t = line.trim_start_matches(' ');
                prop_assert!(!t.starts_with(fence.as_str()), "{:?} closes {:?}", line, fence);
            }
        }

        #[test]
        fn markdown_text_has_no_tags_or_unescaped_specials(s in hostile()) {
            let t = text(&s);
            prop_assert!(!t.contains('<') && !t.contains('>'));
            let mut escaped = false;
            for c in t.chars() {
                if !escaped && matches!(c, '`' | '*' | '[' | ']' | '|' | '~') {
                    prop_assert!(false, "unescaped {:?} in {:?}", c, t);
                }
                escaped = !escaped && c == '\\';
            }
        }
    }
}
