//! Plan files: sealed NDJSON on disk, written ([`writer`]) and read as a stream, and the
//! SHA-256 helpers plans bind themselves with ([`digest`]). Opening a plan file checks its
//! version, its seal and that what it shows for review is what it applies ([`review`]).

mod digest;
mod review;
mod writer;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Change, FORMAT_VERSION, Plan, PlanFooter, PlanHeader, PlanLine, Seal};
use review::ReviewCheck;

pub use digest::{folder_of, sha256_file, sha256_hex, sha256_path};
pub use writer::{PlanWriter, WrittenPlan};

/// Errors reading or writing a plan file.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// I/O.
    #[error("cannot {action} plan file `{path}`")]
    Io {
        /// read / write.
        action: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a plan file.
    #[error("`{path}` is not a valid plan file: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> PlanFileError {
    PlanFileError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// A plan file whose seal was checked: its header and footer in memory, its changes read
/// from disk on demand.
#[derive(Debug)]
pub struct PlanFile {
    path: PathBuf,
    /// The plan as people review it.
    pub plan: Plan,
}

/// The longest line a plan file may hold (a change with large metadata values still fits).
const MAX_LINE: usize = 64 << 20;

impl PlanFile {
    /// Opens a plan file: checks its format version, then reads it once, hashing every byte
    /// before the seal, and refuses a file whose contents do not match its `plan_id`.
    pub fn open(path: &Path) -> Result<PlanFile, PlanFileError> {
        let invalid = |message: String| PlanFileError::Invalid {
            path: path.display().to_string(),
            message,
        };
        let file = std::fs::File::open(path).map_err(|e| io_error("read", path, e))?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut hasher = Sha256::new();
        let mut line = Vec::new();
        let mut number = 0u64;
        let mut header: Option<PlanHeader> = None;
        let mut footer: Option<PlanFooter> = None;
        let mut seal: Option<Seal> = None;
        let mut review = ReviewCheck::default();
        loop {
            line.clear();
            let n = read_line(&mut reader, &mut line).map_err(|e| io_error("read", path, e))?;
            if n == 0 {
                break;
            }
            number += 1;
            if seal.is_some() {
                return Err(invalid(format!("line {number}: text after the seal")));
            }
            if number == 1 {
                header = Some(parse_header(&line).map_err(invalid)?);
                hasher.update(&line);
                continue;
            }
            // Changes are hashed and counted here, and the first of each group kept to check
            // the review sample against; they are parsed whole when they are streamed.
            if line.starts_with(b"{\"change\":") {
                if footer.is_some() {
                    return Err(invalid(format!("line {number}: a change after the footer")));
                }
                hasher.update(&line);
                review
                    .add(&line)
                    .map_err(|e| invalid(format!("line {number}: {e}")))?;
                continue;
            }
            match serde_json::from_slice::<PlanLine>(&line) {
                Ok(PlanLine::Footer(f)) if footer.is_none() => {
                    hasher.update(&line);
                    footer = Some(f);
                }
                Ok(PlanLine::Seal(s)) => seal = Some(s),
                Ok(_) => return Err(invalid(format!("line {number}: out of place"))),
                Err(e) => return Err(invalid(format!("line {number}: {e}"))),
            }
        }
        let header = header.ok_or_else(|| invalid("the file is empty".into()))?;
        let footer = footer.ok_or_else(|| invalid("it has no footer (cut short?)".into()))?;
        let seal = seal.ok_or_else(|| invalid("it has no seal (cut short?)".into()))?;
        if hex::encode(hasher.finalize()) != seal.plan_id {
            return Err(invalid(
                "its contents do not match its plan_id (was it edited?)".into(),
            ));
        }
        review.check(&footer).map_err(|e| {
            invalid(format!(
                "{e}; what it shows for review is not what it would apply (was it edited?)"
            ))
        })?;
        Ok(PlanFile {
            path: path.to_path_buf(),
            plan: Plan {
                plan_id: seal.plan_id,
                header,
                footer,
            },
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Streams the changes in apply order. The file is read again, so a change made to it
    /// since [`PlanFile::open`] is an error, not a silent difference.
    pub fn changes(&self) -> Result<ChangeReader, PlanFileError> {
        let file = std::fs::File::open(&self.path).map_err(|e| io_error("read", &self.path, e))?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut line = Vec::new();
        read_line(&mut reader, &mut line).map_err(|e| io_error("read", &self.path, e))?;
        let mut hasher = Sha256::new();
        hasher.update(&line);
        Ok(ChangeReader {
            path: self.path.clone(),
            reader,
            line,
            number: 1,
            hasher,
            plan_id: self.plan.plan_id.clone(),
            done: false,
        })
    }
}

/// The changes of a plan file, read one line at a time.
pub struct ChangeReader {
    path: PathBuf,
    reader: BufReader<std::fs::File>,
    line: Vec<u8>,
    number: u64,
    hasher: Sha256,
    plan_id: String,
    done: bool,
}

impl std::fmt::Debug for ChangeReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeReader")
            .field("path", &self.path)
            .field("line", &self.number)
            .finish_non_exhaustive()
    }
}

impl Iterator for ChangeReader {
    type Item = Result<Change, PlanFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let invalid = |path: &Path, message: String| PlanFileError::Invalid {
            path: path.display().to_string(),
            message,
        };
        self.line.clear();
        match read_line(&mut self.reader, &mut self.line) {
            Ok(0) => {
                self.done = true;
                return Some(Err(invalid(&self.path, "it was cut short".into())));
            }
            Ok(_) => {}
            Err(e) => {
                self.done = true;
                return Some(Err(io_error("read", &self.path, e)));
            }
        }
        self.number += 1;
        self.hasher.update(&self.line);
        match serde_json::from_slice::<PlanLine>(&self.line) {
            Ok(PlanLine::Change(c)) => Some(Ok(c)),
            Ok(PlanLine::Footer(_)) => {
                self.done = true;
                // Every change was read: the bytes must still be the sealed ones.
                let now = hex::encode(std::mem::take(&mut self.hasher).finalize());
                (now != self.plan_id).then(|| {
                    Err(invalid(
                        &self.path,
                        "it changed while it was being applied".into(),
                    ))
                })
            }
            Ok(_) => {
                self.done = true;
                Some(Err(invalid(
                    &self.path,
                    format!("line {}: out of place", self.number),
                )))
            }
            Err(e) => {
                self.done = true;
                Some(Err(invalid(
                    &self.path,
                    format!("line {}: {e}", self.number),
                )))
            }
        }
    }
}

/// Reads one line (with its `\n`), refusing lines longer than [`MAX_LINE`].
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    let n = reader
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', line)?;
    if n == MAX_LINE && line.last() != Some(&b'\n') {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "a line is longer than any plan file holds",
        ));
    }
    Ok(n)
}

/// Parses the first line, telling an old or foreign file apart from a broken one.
fn parse_header(line: &[u8]) -> Result<PlanHeader, String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        header: Option<VersionProbe>,
        format_version: Option<u64>,
    }
    #[derive(serde::Deserialize)]
    struct VersionProbe {
        format_version: Option<u64>,
    }
    let unsupported = |v: Option<u64>| {
        format!(
            "format_version {} is not supported (this avnology-migrate reads {FORMAT_VERSION}); run `avnology-migrate plan --out PLAN` again with this version",
            v.map_or("missing".to_string(), |v| v.to_string())
        )
    };
    let text = String::from_utf8_lossy(line);
    // Format 1 was one pretty-printed document: its first line is a lone `{`.
    if text.trim() == "{" {
        return Err(unsupported(Some(1)));
    }
    let probe: Probe = serde_json::from_slice(line).map_err(|e| format!("line 1: {e}"))?;
    let version = probe
        .header
        .as_ref()
        .and_then(|h| h.format_version)
        .or(probe.format_version);
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(unsupported(version));
    }
    match serde_json::from_slice::<PlanLine>(line) {
        Ok(PlanLine::Header(h)) => Ok(h),
        Ok(_) => Err("line 1 is not a plan header".into()),
        Err(e) => Err(format!("line 1: {e}")),
    }
}

/// The header of a plan file, from its first line only (nothing is verified beyond its
/// version: [`PlanFile::open`] checks the seal).
pub fn read_header(path: &Path) -> Result<PlanHeader, PlanFileError> {
    let file = std::fs::File::open(path).map_err(|e| io_error("read", path, e))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    read_line(&mut reader, &mut line).map_err(|e| io_error("read", path, e))?;
    parse_header(&line).map_err(|message| PlanFileError::Invalid {
        path: path.display().to_string(),
        message,
    })
}

/// Reads a plan file, checking its version and its seal.
pub fn load(path: &Path) -> Result<Plan, PlanFileError> {
    Ok(PlanFile::open(path)?.plan)
}

#[cfg(test)]
mod tests;
