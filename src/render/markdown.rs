//! The plan as Markdown for a pull-request comment or a CI step summary. It always fits in
//! [`MAX_LEN`] characters (GitHub's comment limit is 65,536) whatever the plan size: entries
//! are listed until the budget is spent and the rest are counted. Emails, names and other
//! personal data are masked unless `show_pii` is set, because PR comments are widely read.
//!
//! Every value from an export, the manifest or the tenant is placed with [`escape`]: in code
//! spans and code blocks whose backtick fences outlast any run inside, as text with HTML and
//! markdown punctuation escaped, with `|` escaped in table cells, and with control and bidi
//! characters shown as escapes. A hostile id can therefore neither close a block nor add HTML,
//! links, lines or columns to the comment.
//!
//! [`escape`]: super::escape

use std::fmt::Write as _;

use serde_json::Value;

use super::escape::{self, code_span, terminal, text_with_code};
use crate::diff::FieldChange;
use crate::plan::{Action, Change, ObjectKind, Plan};

/// The most characters a rendering may have.
pub const MAX_LEN: usize = 60_000;

/// Room kept for the closing sections after the change listings.
const RESERVE: usize = 6_000;

/// Options for the Markdown renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarkdownOptions {
    /// Show emails, names and metadata values unmasked.
    pub show_pii: bool,
}

/// Renders `plan` as Markdown of at most [`MAX_LEN`] characters.
pub fn render(plan: &Plan, options: MarkdownOptions) -> String {
    let s = plan.summary();
    let (header, footer) = (&plan.header, &plan.footer);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## avnology-migrate plan{}\n",
        if header.destroy { " (destroy)" } else { "" }
    );
    if let Some(only) = super::partial_addresses(plan, code_span) {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **Partial plan: only** {only}.\n> {}.\n",
            super::PARTIAL_NOTE[..1].to_uppercase() + &super::PARTIAL_NOTE[1..]
        );
    }
    let destructive = s.delete + s.deactivate;
    if destructive > 0 {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **This plan deletes {} and deactivates {} identities.** Review every entry below before merging.\n",
            s.delete, s.deactivate
        );
    }
    let _ = writeln!(
        out,
        "Target {}{} · plan {} · manifest {}\n",
        code_span(&header.target.url),
        header
            .target
            .organization
            .as_deref()
            .map(|o| format!(", organization {}", code_span(o)))
            .unwrap_or_default(),
        code_span(short(&plan.plan_id)),
        code_span(&header.manifest.path)
    );
    out.push_str("| create | update | deactivate | reactivate | delete | unchanged | skipped | invalid | not owned |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        s.create,
        s.update,
        s.deactivate,
        s.reactivate,
        s.delete,
        s.no_op,
        s.skipped,
        s.invalid,
        s.unowned
    );
    if plan.is_empty() {
        out.push_str("**No changes.** The tenant matches the manifest.\n");
    }

    for kind in ObjectKind::ALL {
        for action in Action::ALL {
            let total = plan.count(kind, action);
            if total == 0 {
                continue;
            }
            let noun = if total == 1 {
                kind.noun()
            } else {
                kind.plural()
            };
            let _ = writeln!(
                out,
                "<details{}><summary><code>{}</code> {} {noun} to {}</summary>\n",
                if matches!(action, Action::Delete | Action::Deactivate) {
                    " open"
                } else {
                    ""
                },
                action.symbol(),
                total,
                action.infinitive()
            );
            // The fence is chosen once the listed entries are known, and counted in the
            // budget, so that no backtick run inside can close the block.
            let mut body = String::new();
            let mut fence_len = 3;
            let mut shown = 0;
            for change in plan.listed(kind, action) {
                let entry = entry(change, options);
                let fence_with = fence_len.max(escape::fence(&entry).len());
                if out.len() + body.len() + entry.len() + 2 * fence_with + "diff\n\n".len()
                    > MAX_LEN - RESERVE
                {
                    break;
                }
                body.push_str(&entry);
                fence_len = fence_with;
                shown += 1;
            }
            let fence = "`".repeat(fence_len);
            let _ = write!(out, "{fence}diff\n{body}{fence}\n");
            if shown < total {
                let _ = writeln!(
                    out,
                    "\n… and {} more not shown (the plan file has them all).",
                    total - shown
                );
            }
            out.push_str("\n</details>\n\n");
        }
    }

    let mut tail = String::new();
    if s.skipped + s.invalid > 0 {
        let _ = writeln!(
            tail,
            "<details><summary>{} skipped, {} invalid records</summary>\n",
            s.skipped, s.invalid
        );
        for r in footer.skipped.iter().chain(&footer.invalid).take(20) {
            let _ = writeln!(
                tail,
                "- {} {} — {}",
                code_span(r.external_id.as_deref().unwrap_or("(no id)")),
                escape::text(&r.location),
                text_with_code(&mask_text(&r.reason, options))
            );
        }
        let n = s.skipped + s.invalid;
        if n > 20 {
            let _ = writeln!(tail, "- … and {} more", n - 20);
        }
        tail.push_str("\n</details>\n\n");
    }
    if s.conflicts > 0 {
        let _ = writeln!(
            tail,
            "> [!WARNING]\n> {} record(s) conflict with live objects this plan may not take over and are left out.\n\n<details><summary>Conflicts</summary>\n",
            s.conflicts
        );
        for x in footer.conflicts.iter().take(20) {
            let desired = x.desired.as_deref().map(|d| match x.kind {
                crate::plan::ObjectKind::Identity if !options.show_pii => mask_email(d),
                _ => d.to_string(),
            });
            let live = x.live.as_deref().map(|d| match x.kind {
                crate::plan::ObjectKind::Identity if !options.show_pii => mask_email(d),
                _ => d.to_string(),
            });
            let _ = writeln!(
                tail,
                "- {} {} {} ({}) — live {} {} {} — {}",
                x.kind.noun(),
                code_span(&x.key),
                desired.as_deref().map(code_span).unwrap_or_default(),
                escape::text(&x.location),
                code_span(&x.live_id),
                x.live_external_id.as_deref().map_or_else(
                    || "without external_id".into(),
                    |k| format!("external_id {}", code_span(k))
                ),
                live.as_deref().map(code_span).unwrap_or_default(),
                text_with_code(&mask_text(&x.reason, options))
            );
        }
        if s.conflicts > 20 {
            let _ = writeln!(tail, "- … and {} more", s.conflicts - 20);
        }
        tail.push_str("\n</details>\n\n");
    }
    if !header.destroy && !footer.passwords.is_empty() {
        tail.push_str("| source | bcrypt | firebase-scrypt | must reset | no password | MFA to re-enrol |\n|---|---:|---:|---:|---:|---:|\n");
        for p in &footer.passwords {
            let _ = writeln!(
                tail,
                "| {} | {} | {} | {} | {} | {} |",
                escape::table_cell(&code_span(&p.source)),
                p.bcrypt,
                p.firebase_scrypt,
                p.reset_no_hash + p.reset_unsupported,
                p.passwordless,
                p.mfa_not_carried
            );
        }
        tail.push('\n');
    }
    for w in footer.warnings.iter().take(10) {
        let _ = writeln!(
            tail,
            "> [!WARNING]\n> {}\n",
            text_with_code(&mask_text(w, options))
        );
    }
    if footer.warnings.len() > 10 {
        let _ = writeln!(
            tail,
            "… and {} more warnings.\n",
            footer.warnings.len() - 10
        );
    }
    if out.len() + tail.len() > MAX_LEN {
        tail = "\n(Details left out to fit the comment size limit; see the plan file.)\n".into();
    }
    out.push_str(&tail);
    out
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// One change inside the `diff` block: every value escaped with [`terminal`], so each line
/// starts with its diff symbol and the block's fence is the only way out of it.
fn entry(change: &Change, options: MarkdownOptions) -> String {
    let mut s = format!(
        "{} {} \"{}\"",
        change.action.symbol(),
        change.kind.noun(),
        terminal(&change.key)
    );
    if let Some(src) = &change.source {
        let _ = write!(s, "  (source {})", terminal(src));
    }
    s.push('\n');
    for f in &change.fields {
        let line_sym = match (&f.before, &f.after) {
            (None, Some(_)) => "+",
            (Some(_), None) => "-",
            _ => "!",
        };
        let value = match (&f.before, &f.after) {
            (Some(b), Some(a)) => format!("{} -> {}", show(f, b, options), show(f, a, options)),
            (None, Some(v)) | (Some(v), None) => show(f, v, options),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            s,
            "{line_sym}     {} = {}",
            terminal(&f.path),
            terminal(&value)
        );
    }
    s
}

/// Fields whose values identify a person.
fn is_pii(path: &str) -> bool {
    matches!(
        path,
        "email"
            | "phone"
            | "username"
            | "first_name"
            | "last_name"
            | "display_name"
            | "avatar_url"
            | "linked_providers"
    ) || (path.starts_with("traits.") || path.starts_with("admin_metadata."))
        && path != "admin_metadata.avnology_migrate"
}

fn show(f: &FieldChange, v: &Value, options: MarkdownOptions) -> String {
    if f.sensitive {
        return "(sensitive)".into();
    }
    if options.show_pii || !is_pii(&f.path) {
        return v.to_string();
    }
    match v {
        Value::String(s) if f.path == "email" => format!("\"{}\"", mask_email(s)),
        Value::String(s) => format!("\"{}\"", mask_word(s)),
        Value::Null => "null".into(),
        _ => "(masked)".into(),
    }
}

/// `ada.lovelace@example.com` → `a***@e***.com`.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
            let tld = if tld.is_empty() {
                String::new()
            } else {
                format!(".{tld}")
            };
            format!("{}@{}{tld}", mask_word(local), mask_word(host))
        }
        None => mask_word(email),
    }
}

/// `Lovelace` → `L***`.
pub fn mask_word(s: &str) -> String {
    match s.chars().next() {
        Some(c) => format!("{c}***"),
        None => String::new(),
    }
}

/// Masks anything that looks like an email inside free text (skip reasons, warnings).
fn mask_text(text: &str, options: MarkdownOptions) -> String {
    if options.show_pii {
        return text.to_string();
    }
    text.split(' ')
        .map(|w| {
            let bare =
                w.trim_matches(|c: char| c == '`' || c == ',' || c == '.' || c == '(' || c == ')');
            if bare.contains('@') && bare.contains('.') {
                w.replace(bare, &mask_email(bare))
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::sample;

    #[test]
    fn masks_emails_and_words() {
        assert_eq!(mask_email("ada.lovelace@example.com"), "a***@e***.com");
        assert_eq!(mask_word("Lovelace"), "L***");
        assert_eq!(
            mask_text(
                "email `ada@example.com` is also used",
                MarkdownOptions::default()
            ),
            "email `a***@e***.com` is also used"
        );
    }

    #[test]
    fn renders_a_pr_comment_with_a_banner_and_masked_pii() {
        let out = render(&sample::plan(), MarkdownOptions::default());
        insta::assert_snapshot!(out, @r#"
## avnology-migrate plan

> [!CAUTION]
> **This plan deletes 1 and deactivates 1 identities.** Review every entry below before merging.

Target `sandbox:.avnology-sandbox`, organization `acme` · plan `0123456789ab` · manifest `migration.toml`

| create | update | deactivate | reactivate | delete | unchanged | skipped | invalid | not owned |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| 1 | 1 | 1 | 0 | 1 | 5 | 1 | 0 | 2 |

<details><summary><code>+</code> 1 identity to create</summary>

```diff
+ identity "auth0|new"  (source auth0-prod)
+     email = "a***@e***.com"
+     first_name = "A***"
+     password = (sensitive)
```

</details>

<details><summary><code>~</code> 1 identity to update</summary>

```diff
~ identity "auth0|renamed"  (source auth0-prod)
!     first_name = "B***" -> "R***"
```

</details>

<details open><summary><code>±</code> 1 identity to deactivate</summary>

```diff
± identity "auth0|blocked"  (source auth0-prod)
!     state = "active" -> "inactive"
```

</details>

<details open><summary><code>-</code> 1 identity to delete</summary>

```diff
- identity "auth0|gone"  (source auth0-prod)
```

</details>

<details><summary>1 skipped, 0 invalid records</summary>

- `sms|1` users.ndjson:7 (record 7) — no email address

</details>

| source | bcrypt | firebase-scrypt | must reset | no password | MFA to re-enrol |
|---|---:|---:|---:|---:|---:|
| `auth0-prod` | 1 | 0 | 1 | 2 | 1 |
"#);
    }

    /// `md` without its fenced blocks and code spans: what GitHub reads as markdown and HTML.
    /// Panics if a fenced block is left open or holds a line that is not a diff line.
    fn outside_code(md: &str) -> String {
        let mut out = String::new();
        let mut fence: Option<usize> = None;
        for line in md.lines() {
            let ticks = line.chars().take_while(|&c| c == '`').count();
            match fence {
                Some(n) if ticks >= n && line.trim_end().len() == ticks => fence = None,
                Some(_) => assert!(
                    line.starts_with(['+', '-', '~', '!', '±']),
                    "a value escaped its diff line: {line:?}\n{md}"
                ),
                None if ticks >= 3 => fence = Some(ticks),
                None => {
                    let mut rest = line;
                    while let Some(start) = rest.find('`') {
                        out.push_str(&rest[..start]);
                        let n = rest[start..].chars().take_while(|&c| c == '`').count();
                        let after = &rest[start + n..];
                        let delim = "`".repeat(n);
                        let close = (0..after.len()).find(|&i| {
                            after[i..].starts_with(&delim)
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
                    out.push('\n');
                }
            }
        }
        assert_eq!(fence, None, "a fenced block is left open:\n{md}");
        out
    }

    #[test]
    fn hostile_values_stay_inside_code_and_cells() {
        for show_pii in [false, true] {
            assert_sound(&render(
                &sample::hostile_plan(),
                MarkdownOptions { show_pii },
            ));
        }
        let md = render(&sample::hostile_plan(), MarkdownOptions { show_pii: true });
        assert!(
            md.contains("<h1>pwned</h1>"),
            "the value is still shown, verbatim: {md}"
        );
    }

    /// No control or bidi character, no HTML but the renderer's own, balanced `<details>`,
    /// and every row of a table with its table's number of cells.
    fn assert_sound(md: &str) {
        assert!(
            !md.chars()
                .any(|c| c != '\n' && crate::render::escape::is_unsafe(c)),
            "{md}"
        );
        let prose = outside_code(md);
        let tags = [
            "<details open>",
            "<details>",
            "</details>",
            "<summary>",
            "</summary>",
            "<code>",
            "</code>",
        ];
        let mut stripped = prose.clone();
        for t in tags {
            stripped = stripped.replace(t, "");
        }
        assert!(!stripped.contains('<'), "raw HTML outside code:\n{prose}");
        assert_eq!(
            prose.matches("<details").count(),
            prose.matches("</details>").count(),
            "{md}"
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
                "a value split a table row: {line}"
            );
        }
    }

    #[test]
    fn show_pii_unmasks() {
        let out = render(&sample::plan(), MarkdownOptions { show_pii: true });
        assert!(out.contains("ada@example.com"));
        assert!(!render(&sample::plan(), MarkdownOptions::default()).contains("ada@example.com"));
    }

    #[test]
    fn a_hundred_thousand_creates_fit_in_a_comment() {
        let out = render(&sample::big_plan(100_000), MarkdownOptions::default());
        assert!(out.len() <= MAX_LEN, "{}", out.len());
        assert!(
            out.contains("more not shown"),
            "{}",
            &out[out.len() - 300..]
        );
        assert!(out.contains("| 100000 |"));
    }
}
