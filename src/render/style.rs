//! Every colour the tool prints, in one place. Colour only decorates: the symbols
//! (`+ ~ ± -`) and words always carry the meaning.

use anstyle::{AnsiColor, Style};

use crate::plan::Action;

/// Creates.
pub const CREATE: Style = AnsiColor::Green.on_default();
/// Updates.
pub const UPDATE: Style = AnsiColor::Yellow.on_default();
/// Deactivate / reactivate.
pub const STATE: Style = AnsiColor::Magenta.on_default();
/// Deletes.
pub const DELETE: Style = AnsiColor::Red.on_default();
/// Headings and summary.
pub const BOLD: Style = Style::new().bold();
/// Secondary text.
pub const DIM: Style = Style::new().dimmed();
/// Warnings.
pub const WARN: Style = AnsiColor::Yellow.on_default().bold();

/// The style of an action.
pub fn action(a: Action) -> Style {
    match a {
        Action::Create | Action::Adopt => CREATE,
        Action::Update => UPDATE,
        Action::Deactivate | Action::Reactivate => STATE,
        Action::Delete => DELETE,
    }
}

/// Wraps `text` in `style` when `color` is on.
pub fn paint(color: bool, style: Style, text: &str) -> String {
    if color {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}
