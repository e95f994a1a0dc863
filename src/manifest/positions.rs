//! Where a manifest's values are written, for messages: the line and column of each
//! `[[users]]` and `[[client_sources]]` entry's name, path and passwords, and of `[target]`.

use super::error::{find_position, line_col};

/// Where the values that checks point at are written: 1-based line and column.
pub(super) type Position = (Option<usize>, Option<usize>);

/// The positions of the manifest's parts, for messages. TOML is read again with spans; YAML's
/// serde API has none, so there only the `[target]` table's presence is known and the checks
/// fall back to searching the text.
#[derive(Debug, Default)]
pub(super) struct Positions {
    /// The `[target]` table (line only), or `(None, None)` when there is none.
    pub(super) target: Position,
    /// Per `[[users]]` entry.
    pub(super) users: Vec<SourcePositions>,
    /// Per `[[client_sources]]` entry.
    pub(super) client_sources: Vec<SourcePositions>,
}

/// Where one source's values are.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct SourcePositions {
    pub(super) name: Option<Position>,
    pub(super) path: Option<Position>,
    pub(super) passwords: Option<Position>,
}

impl Positions {
    pub(super) fn read(text: &str, is_yaml: bool) -> Positions {
        #[derive(serde::Deserialize)]
        struct Spans {
            target: Option<toml::Spanned<serde::de::IgnoredAny>>,
            #[serde(default)]
            users: Vec<SourceSpans>,
            #[serde(default)]
            client_sources: Vec<SourceSpans>,
        }
        #[derive(serde::Deserialize)]
        struct SourceSpans {
            name: Option<toml::Spanned<serde::de::IgnoredAny>>,
            path: Option<toml::Spanned<serde::de::IgnoredAny>>,
            passwords: Option<toml::Spanned<serde::de::IgnoredAny>>,
        }
        if is_yaml {
            let has_target = yaml_serde::from_str::<serde_json::Value>(text)
                .is_ok_and(|v| v.get("target").is_some());
            return Positions {
                target: if has_target {
                    find_position(text, "target")
                } else {
                    (None, None)
                },
                ..Positions::default()
            };
        }
        let Ok(spans) = toml::from_str::<Spans>(text) else {
            return Positions::default();
        };
        let at = |s: &Option<toml::Spanned<serde::de::IgnoredAny>>| {
            s.as_ref().map(|s| {
                let (l, c) = line_col(text, s.span().start);
                (Some(l), Some(c))
            })
        };
        let sources = |list: &[SourceSpans]| {
            list.iter()
                .map(|s| SourcePositions {
                    name: at(&s.name),
                    path: at(&s.path),
                    passwords: at(&s.passwords),
                })
                .collect()
        };
        Positions {
            // A table's span covers its keys; its header is the line it is named on.
            target: match &spans.target {
                Some(_) => match find_position(text, "[target]") {
                    (Some(l), c) => (Some(l), c),
                    _ => at(&spans.target).unwrap_or_default(),
                },
                None => (None, None),
            },
            users: sources(&spans.users),
            client_sources: sources(&spans.client_sources),
        }
    }
}
