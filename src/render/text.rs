//! The Terraform-like text plan. Large sets collapse: each action lists its first entries in
//! full and counts the rest, so a plan of a million creates stays readable. Ids, names,
//! field paths and values, sources and reasons are printed through [`terminal`], so no value
//! can add a line, move the cursor or reorder the text around it.

use std::fmt::Write as _;

use serde_json::Value;

use super::escape::terminal;
use super::style::{self, paint};
use crate::diff::FieldChange;
use crate::plan::{Action, Change, ObjectKind, Plan};

/// Options for the text renderer.
#[derive(Debug, Clone, Copy)]
pub struct TextOptions {
    /// ANSI colour.
    pub color: bool,
    /// How many changes per action are shown in full before the rest are counted.
    pub max_per_action: usize,
}

impl Default for TextOptions {
    fn default() -> Self {
        Self {
            color: false,
            max_per_action: 25,
        }
    }
}

/// Renders a plan.
pub fn render(plan: &Plan, options: TextOptions) -> String {
    let mut out = String::new();
    let c = options.color;
    if let Some(only) = super::partial_addresses(plan, |a| terminal(a).into_owned()) {
        let _ = writeln!(
            out,
            "{} {only}\n  ({})\n",
            paint(c, style::WARN, "PARTIAL PLAN: only"),
            super::PARTIAL_NOTE
        );
    }
    if plan.is_empty() && plan.footer.summary.conflicts > 0 {
        out.push_str(&paint(c, style::BOLD, "No changes can be made."));
        out.push_str(" Records in conflict are listed below.\n");
    } else if plan.is_empty() {
        out.push_str(&paint(c, style::BOLD, "No changes."));
        out.push_str(if plan.is_partial() {
            " The selected objects in the tenant match the manifest.\n"
        } else {
            " The tenant matches the manifest.\n"
        });
    } else {
        out.push_str("avnology-migrate will perform the following actions:\n");
        for kind in ObjectKind::ALL {
            for action in Action::ALL {
                let total = plan.count(kind, action);
                let mut shown = 0u64;
                for ch in plan.listed(kind, action).take(options.max_per_action) {
                    out.push('\n');
                    render_change(&mut out, ch, c);
                    shown += 1;
                }
                if total > shown {
                    let rest = total - shown;
                    let _ = writeln!(
                        out,
                        "\n  {} … and {rest} more {} to {}",
                        paint(c, style::action(action), action.symbol()),
                        if rest == 1 {
                            kind.noun()
                        } else {
                            kind.plural()
                        },
                        action.infinitive()
                    );
                }
            }
        }
    }
    render_skipped(&mut out, plan, c);
    render_conflicts(&mut out, plan, c);
    render_passwords(&mut out, plan);
    for w in &plan.footer.warnings {
        let _ = writeln!(
            out,
            "\n{} {}",
            paint(c, style::WARN, "warning:"),
            terminal(w)
        );
    }
    out.push('\n');
    out.push_str(&summary_line(plan, c));
    out.push('\n');
    out
}

/// Conflicts: both sides of each, and what resolves it.
fn render_conflicts(out: &mut String, plan: &Plan, c: bool) {
    let total = plan.footer.summary.conflicts;
    if total == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "\n{} {total} record(s) conflict with live objects this plan may not take over; they are left out:",
        paint(c, style::WARN, "!")
    );
    for x in plan.footer.conflicts.iter().take(MAX_LISTED_CONFLICTS) {
        let _ = writeln!(
            out,
            "  {} `{}` ({}, {}){}\n    live {} {}{}{}{}\n    {}",
            x.kind.noun(),
            terminal(&x.key),
            terminal(&x.source),
            terminal(&x.location),
            x.desired
                .as_deref()
                .map(|d| format!(" {}", terminal(d)))
                .unwrap_or_default(),
            x.kind.noun(),
            terminal(&x.live_id),
            x.live_external_id.as_deref().map_or_else(
                || " without external_id".to_string(),
                |k| format!(" external_id `{}`", terminal(k))
            ),
            x.live
                .as_deref()
                .map(|l| format!(" {}", terminal(l)))
                .unwrap_or_default(),
            x.live_owner
                .as_deref()
                .map(|o| format!(" (source `{}`)", terminal(o)))
                .unwrap_or_default(),
            terminal(&x.reason)
        );
    }
    let shown = plan.footer.conflicts.len().min(MAX_LISTED_CONFLICTS) as u64;
    if total > shown {
        let _ = writeln!(out, "  … and {} more (all in the plan file)", total - shown);
    }
}

/// How many conflicts the text plan lists before counting the rest.
const MAX_LISTED_CONFLICTS: usize = 50;

fn render_change(out: &mut String, ch: &Change, c: bool) {
    let sym = paint(c, style::action(ch.action), ch.action.symbol());
    let key = terminal(&ch.key);
    let source = ch
        .source
        .as_deref()
        .map(|s| format!(" (source {})", terminal(s)))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "  {}",
        paint(
            c,
            style::DIM,
            &format!(
                "# {} \"{key}\"{source} will be {}",
                ch.kind.noun(),
                ch.action.verb()
            )
        )
    );
    let _ = writeln!(out, "  {sym} {} \"{key}\"", ch.kind.noun());
    let paths: Vec<_> = ch.fields.iter().map(|f| terminal(&f.path)).collect();
    let width = paths.iter().map(|p| p.len()).max().unwrap_or(0);
    for (f, path) in ch.fields.iter().zip(&paths) {
        let fsym = match (&f.before, &f.after) {
            (None, Some(_)) => "+",
            (Some(_), None) => "-",
            _ => "~",
        };
        let fsym = paint(c, style::action(field_action(fsym)), fsym);
        let value = match (&f.before, &f.after) {
            (Some(b), Some(a)) => format!("{} -> {}", show(f, b), show(f, a)),
            (None, Some(a)) => show(f, a),
            (Some(b), None) => show(f, b),
            (None, None) => String::new(),
        };
        let _ = writeln!(out, "      {fsym} {path:width$} = {value}");
    }
}

fn field_action(sym: &str) -> Action {
    match sym {
        "+" => Action::Create,
        "-" => Action::Delete,
        _ => Action::Update,
    }
}

/// A field value for display: JSON (which escapes C0 controls but not DEL, C1 or bidi
/// characters, hence the second pass), with sensitive values masked.
fn show(f: &FieldChange, v: &Value) -> String {
    if f.sensitive {
        match v.as_str() {
            Some(alg) => format!("(sensitive {} hash)", terminal(alg)),
            None => "(sensitive)".to_string(),
        }
    } else {
        terminal(&v.to_string()).into_owned()
    }
}

fn render_skipped(out: &mut String, plan: &Plan, c: bool) {
    let s = plan.summary();
    for (title, list, total) in [
        ("skipped", &plan.footer.skipped, s.skipped),
        ("invalid, left out", &plan.footer.invalid, s.invalid),
    ] {
        if total == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{} {total} record(s) {title}:",
            paint(c, style::WARN, "!"),
        );
        for r in list.iter().take(25) {
            let id = r
                .external_id
                .as_deref()
                .map(|i| format!(" `{}`", terminal(i)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  ! {}{id} ({}): {}",
                terminal(&r.location),
                terminal(&r.source),
                terminal(&r.reason)
            );
        }
        let listed = list.len().min(25) as u64;
        if total > listed {
            let _ = writeln!(out, "  … and {} more", total - listed);
        }
    }
}

fn render_passwords(out: &mut String, plan: &Plan) {
    if plan.header.destroy {
        return;
    }
    for p in &plan.footer.passwords {
        let native = p.bcrypt + p.firebase_scrypt;
        let reset = p.reset_no_hash + p.reset_unsupported;
        let _ = write!(
            out,
            "\nPasswords ({}): {native} carry over (bcrypt {}, firebase-scrypt {}), {reset} must reset",
            terminal(&p.source),
            p.bcrypt,
            p.firebase_scrypt
        );
        if reset > 0 {
            let _ = write!(
                out,
                " (no hash {}, unsupported hasher {})",
                p.reset_no_hash, p.reset_unsupported
            );
        }
        let _ = write!(out, ", {} without a password", p.passwordless);
        if p.mfa_not_carried > 0 {
            let _ = write!(out, "; {} must re-enrol MFA", p.mfa_not_carried);
        }
        if !p.unsupported_users.is_empty() {
            let more = p
                .reset_unsupported
                .saturating_sub(p.unsupported_users.len() as u64);
            let _ = write!(
                out,
                "\n  ! must reset, unsupported hasher: {}{}",
                terminal(&p.unsupported_users.join(", ")),
                if more > 0 {
                    format!(" … and {more} more")
                } else {
                    String::new()
                }
            );
        }
        out.push('\n');
    }
}

/// `Plan: 3 to create, 1 to update, …` — the line CI logs and reviewers read first.
pub fn summary_line(plan: &Plan, c: bool) -> String {
    let s = plan.summary();
    let org = if plan.count(ObjectKind::Organization, Action::Create) > 0 {
        "organization to create, "
    } else {
        ""
    };
    let counts: Vec<String> = Action::ALL
        .iter()
        // Adoptions are rare (a cutover's dual-write sign-ups): counted only when present.
        .filter(|a| **a != Action::Adopt || s.adopt > 0)
        .map(|a| format!("{} to {}", s.count(*a), a.infinitive()))
        .collect();
    format!(
        "{} {org}{}. {} unchanged, {} skipped, {} invalid, {}{} not owned by this manifest.",
        paint(
            c,
            style::BOLD,
            if plan.is_partial() {
                "Partial plan:"
            } else {
                "Plan:"
            }
        ),
        counts.join(", "),
        s.no_op,
        s.skipped,
        s.invalid,
        if s.conflicts > 0 {
            format!("{} in conflict, ", s.conflicts)
        } else {
            String::new()
        },
        s.unowned
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Summary;
    use crate::render::sample;

    #[test]
    fn renders_every_kind_of_change() {
        let out = render(&sample::plan(), TextOptions::default());
        insta::assert_snapshot!(out, @r#"
avnology-migrate will perform the following actions:

  # identity "auth0|new" (source auth0-prod) will be created
  + identity "auth0|new"
      + email      = "ada@example.com"
      + first_name = "Ada"
      + password   = (sensitive bcrypt hash)

  # identity "auth0|renamed" (source auth0-prod) will be updated in place
  ~ identity "auth0|renamed"
      ~ first_name = "Bob" -> "Rob"

  # identity "auth0|blocked" (source auth0-prod) will be deactivated
  ± identity "auth0|blocked"
      ~ state = "active" -> "inactive"

  # identity "auth0|gone" (source auth0-prod) will be deleted
  - identity "auth0|gone"

! 1 record(s) skipped:
  ! users.ndjson:7 (record 7) `sms|1` (auth0-prod): no email address

Passwords (auth0-prod): 1 carry over (bcrypt 1, firebase-scrypt 0), 1 must reset (no hash 1, unsupported hasher 0), 2 without a password; 1 must re-enrol MFA

Plan: 1 to create, 1 to update, 1 to deactivate, 0 to reactivate, 1 to delete. 5 unchanged, 1 skipped, 0 invalid, 2 not owned by this manifest.
"#);
    }

    #[test]
    fn large_sets_collapse_to_counts() {
        let out = render(&sample::big_plan(100_000), TextOptions::default());
        assert!(
            out.contains("… and 99975 more identities to create"),
            "{}",
            &out[out.len() - 500..]
        );
        assert_eq!(out.matches("+ identity ").count(), 25);
        assert!(out.len() < 10_000, "{}", out.len());
    }

    #[test]
    fn colour_is_decoration_only() {
        let plain = render(&sample::plan(), TextOptions::default());
        let coloured = render(
            &sample::plan(),
            TextOptions {
                color: true,
                ..Default::default()
            },
        );
        assert!(coloured.contains("\u{1b}["));
        let stripped =
            String::from_utf8(anstream::adapter::strip_bytes(coloured.as_bytes()).into_vec())
                .unwrap();
        assert_eq!(stripped, plain);
    }

    #[test]
    fn hostile_values_cannot_add_lines_or_control_the_terminal() {
        let out = render(&sample::hostile_plan(), TextOptions::default());
        let unsafe_char = out
            .chars()
            .find(|&c| c != '\n' && crate::render::escape::is_unsafe(c));
        assert_eq!(unsafe_char, None, "{out}");
        for line in out.lines() {
            assert!(
                !line.starts_with("```")
                    && !line.starts_with("</details>")
                    && !line.starts_with("<h1>"),
                "a value forged the line {line:?} in:\n{out}"
            );
        }
        assert!(out.contains(r#"+ identity "auth0|x\n```\n</details>\n<h1>pwned</h1>`|\u{1b}[31m\u{9b}0m\u{202e}""#), "{out}");
    }

    #[test]
    fn empty_plan_says_no_changes() {
        let mut p = sample::plan();
        p.footer.groups.clear();
        p.footer.sample.clear();
        p.footer.summary = Summary::default();
        let out = render(&p, TextOptions::default());
        assert!(out.starts_with("No changes."), "{out}");
    }
}
