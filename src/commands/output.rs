//! Where output goes: data (plans, JSON) on stdout, status and warnings on stderr, both
//! through anstream so `NO_COLOR`, `--color` and non-terminals are honoured in one place.

use std::io::{IsTerminal, Write};

use crate::cli::ColorChoice;

/// Sets the process-wide colour choice from `--color`.
pub fn init_color(choice: ColorChoice) {
    let c = match choice {
        ColorChoice::Auto => anstream::ColorChoice::Auto,
        ColorChoice::Always => anstream::ColorChoice::Always,
        ColorChoice::Never => anstream::ColorChoice::Never,
    };
    c.write_global();
}

/// Writes data to stdout (ANSI stripped where colour is off).
pub fn stdout(text: &str) -> std::io::Result<()> {
    let mut out = anstream::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Writes bytes to stdout as they are (generated scripts and pages).
pub fn stdout_bytes(bytes: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// Writes a status line to stderr.
pub fn status(text: &str) {
    let mut err = anstream::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// Asks for `yes` on a terminal. Off a terminal there is nobody to ask, so this refuses.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(crate::error::with_hint(
            anyhow::anyhow!(
                "refusing to apply without confirmation: standard input is not a terminal"
            ),
            "review the plan and pass --auto-approve, or apply a saved plan file",
        ));
    }
    status(&format!(
        "\n{question}\n  Only 'yes' will be accepted to approve.\n"
    ));
    eprint!("  Enter a value: ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim() == "yes")
}

/// Copies a file (a plan file for `--format json`) to stdout as it is, streamed.
pub fn stdout_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut file = std::fs::File::open(path)?;
    let mut out = std::io::stdout().lock();
    std::io::copy(&mut file, &mut out)?;
    out.flush()
}

/// Renders `plan` on stdout in `format`; `file` is the plan file the JSON format prints.
pub fn plan(
    plan: &crate::plan::Plan,
    file: &std::path::Path,
    format: crate::render::Format,
    show_pii: bool,
) -> std::io::Result<()> {
    use crate::render::{self, Format};
    match format {
        Format::Text => stdout(&render::text::render(
            plan,
            render::text::TextOptions {
                color: true,
                ..Default::default()
            },
        )),
        Format::Json => stdout_file(file),
        Format::Markdown => stdout(&render::markdown::render(
            plan,
            render::markdown::MarkdownOptions { show_pii },
        )),
    }
}
