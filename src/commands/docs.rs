//! `avnology-migrate completions SHELL` and `avnology-migrate man`: both generated from the
//! clap definition in [`crate::cli`] at run time, so they always match the binary.

use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::error::Exit;
use crate::printer;

/// Print a shell completion script on stdout.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  avnology-migrate completions bash > ~/.local/share/bash-completion/completions/avnology-migrate\n  avnology-migrate completions zsh > \"${fpath[1]}/_avnology-migrate\"\n  avnology-migrate completions fish > ~/.config/fish/completions/avnology-migrate.fish\n  avnology-migrate completions powershell >> $PROFILE"
)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The name the scripts and the page use.
const BIN: &str = "avnology-migrate";

/// Runs `completions`.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<Exit> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, BIN, &mut script);
    printer::stdout_bytes(&script)?;
    Ok(Exit::Success)
}

/// Runs `man`.
pub fn man() -> anyhow::Result<Exit> {
    printer::stdout_bytes(&man_page()?)?;
    Ok(Exit::Success)
}

/// One page for the whole tool: the top command (synopsis, global options, the list of
/// subcommands), then a section per subcommand with its synopsis, description and options.
/// One page rather than one per subcommand, so `man ./avnology-migrate.1` (or a single file
/// in `man1/`) is the complete reference.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut cmd = Cli::command().bin_name(BIN);
    cmd.build();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let full = format!("{BIN} {}", sub.get_name());
        let mut rendered = Vec::new();
        clap_mangen::Man::new(sub.clone().bin_name(full.clone())).render(&mut rendered)?;
        let text = String::from_utf8_lossy(&rendered);
        page.extend_from_slice(format!(".SH \"{}\"\n", full.to_uppercase()).as_bytes());
        let mut in_name = false;
        for line in text.lines() {
            if line.starts_with(".TH ") {
                continue;
            }
            if let Some(heading) = line.strip_prefix(".SH ") {
                in_name = heading.trim_matches('"') == "NAME";
                if !in_name {
                    page.extend_from_slice(format!(".SS {heading}\n").as_bytes());
                }
                continue;
            }
            if !in_name {
                page.extend_from_slice(line.as_bytes());
                page.push(b'\n');
            }
        }
    }
    Ok(page)
}
