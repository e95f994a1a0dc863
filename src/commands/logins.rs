//! The logins file of `verify --logins`: a CSV with the header `identifier,password`, one
//! test login per row. It is read as a stream and checked whole before any login is tried,
//! so a malformed row is reported with its line and nothing is sent. `--sample N` keeps N
//! rows chosen uniformly at random by reservoir sampling, so a logins file of every user
//! is never held in memory. Passwords are kept only in [`LoginRow`], which has no `Debug`
//! and is never formatted: errors name the file and line, never a row's contents.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::render::escape::terminal;

/// One row of the logins file.
pub struct LoginRow {
    /// Its line in the file (the header is line 1).
    pub line: u64,
    /// The email or username to log in with.
    pub identifier: String,
    /// The password; never printed.
    pub password: String,
}

/// A logins file being read row by row.
pub struct LoginsFile {
    path: PathBuf,
    reader: csv::Reader<File>,
    record: csv::StringRecord,
}

impl LoginsFile {
    /// Opens `path` and checks its header.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let shown = terminal(&path.display().to_string()).into_owned();
        let mut reader = csv::Reader::from_path(path)
            .with_context(|| format!("cannot read the logins file `{shown}`"))?;
        let header_ok = reader
            .headers()
            .is_ok_and(|h| h.iter().eq(["identifier", "password"]));
        if !header_ok {
            anyhow::bail!("{shown}:1: the header must be `identifier,password`");
        }
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            record: csv::StringRecord::new(),
        })
    }

    /// The file's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next row, or an error naming the line of a malformed one.
    pub fn next_row(&mut self) -> anyhow::Result<Option<LoginRow>> {
        let shown = || terminal(&self.path.display().to_string()).into_owned();
        let line_of = |e: &csv::Error, reader: &csv::Reader<File>| {
            e.position()
                .map_or(reader.position().line(), csv::Position::line)
        };
        // The csv error is not chained: its text is ours to choose, and no row content
        // (a password) can reach it.
        let more = match self.reader.read_record(&mut self.record) {
            Ok(more) => more,
            Err(e) => {
                let line = line_of(&e, &self.reader);
                let what = match e.kind() {
                    csv::ErrorKind::UnequalLengths { len, .. } => {
                        format!("expected 2 fields (identifier,password), found {len}")
                    }
                    csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
                    csv::ErrorKind::Io(io) => format!("cannot read: {io}"),
                    _ => "not a valid CSV row".to_string(),
                };
                anyhow::bail!("{}:{line}: {what}", shown());
            }
        };
        if !more {
            return Ok(None);
        }
        let line = self
            .record
            .position()
            .map_or(self.reader.position().line(), csv::Position::line);
        let (identifier, password) = (&self.record[0], &self.record[1]);
        if identifier.trim().is_empty() {
            anyhow::bail!("{}:{line}: the identifier is empty", shown());
        }
        if password.is_empty() {
            anyhow::bail!("{}:{line}: the password is empty", shown());
        }
        Ok(Some(LoginRow {
            line,
            identifier: identifier.to_string(),
            password: password.to_string(),
        }))
    }

    /// Reads the rest of the file, checking every row; returns how many there were.
    pub fn check_all(mut self) -> anyhow::Result<u64> {
        let mut rows = 0;
        while self.next_row()?.is_some() {
            rows += 1;
        }
        Ok(rows)
    }
}

/// A uniform random sample of `n` rows of the file (all of them when it has at most `n`),
/// in file order, and the number of rows it has. Reservoir sampling (Algorithm R): the
/// `i`-th row replaces a kept one with probability `n / i`, so every row is equally likely
/// to be kept and memory holds `n` rows whatever the size of the file.
pub fn sample(mut file: LoginsFile, n: u64, seed: u64) -> anyhow::Result<(Vec<LoginRow>, u64)> {
    let mut rng = StdRng::seed_from_u64(seed);
    // Capacity grows with the file, not with a large `n` asked of a small file.
    let mut kept: Vec<LoginRow> = Vec::new();
    let mut seen = 0u64;
    while let Some(row) = file.next_row()? {
        seen += 1;
        if (kept.len() as u64) < n {
            kept.push(row);
        } else {
            let j = rng.random_range(0..seen);
            if j < n {
                kept[j as usize] = row;
            }
        }
    }
    kept.sort_by_key(|r| r.line);
    Ok((kept, seen))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("logins.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn rows(n: usize) -> String {
        let mut s = String::from("identifier,password\n");
        for i in 0..n {
            s.push_str(&format!("user{i}@example.com,pw-{i}\n"));
        }
        s
    }

    #[test]
    fn a_sample_is_reproducible_in_file_order_and_covers_every_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &rows(100));
        let take = |seed| {
            let (kept, total) = sample(LoginsFile::open(&path).unwrap(), 10, seed).unwrap();
            assert_eq!(total, 100);
            kept.iter().map(|r| r.line).collect::<Vec<_>>()
        };
        let first = take(7);
        assert_eq!(first.len(), 10);
        assert!(first.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(first, take(7));
        // Over many seeds every row is drawn sometimes, and none far more than its share.
        let mut hits = [0u32; 100];
        for seed in 0..2000 {
            for line in take(seed) {
                hits[line as usize - 2] += 1;
            }
        }
        // Each row is kept with probability 1/10: 200 times in 2000 draws on average.
        assert!(hits.iter().all(|&h| (120..=280).contains(&h)), "{hits:?}");
    }

    #[test]
    fn a_sample_larger_than_the_file_is_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &rows(3));
        let (kept, total) = sample(LoginsFile::open(&path).unwrap(), 1_000_000, 1).unwrap();
        assert_eq!(total, 3);
        assert_eq!(kept.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(kept[0].identifier, "user0@example.com");
    }

    #[test]
    fn malformed_rows_name_their_line_and_never_their_contents() {
        let dir = tempfile::tempdir().unwrap();
        for (text, expect) in [
            (
                "id,pw\na,b\n",
                ":1: the header must be `identifier,password`",
            ),
            (
                "identifier,password\na@x,secret-1\nb@x,secret-2,extra\n",
                ":3: expected 2 fields (identifier,password), found 3",
            ),
            (
                "identifier,password\na@x,secret-1\n\"b@x\nc\",secret-2\nlonely\n",
                ":5: expected 2 fields (identifier,password), found 1",
            ),
            (
                "identifier,password\n ,secret-1\n",
                ":2: the identifier is empty",
            ),
            ("identifier,password\na@x,\n", ":2: the password is empty"),
        ] {
            let path = write(dir.path(), text);
            let err = LoginsFile::open(&path)
                .and_then(LoginsFile::check_all)
                .err()
                .unwrap_or_else(|| panic!("{text:?} was accepted"));
            let msg = format!("{err:#}");
            assert!(msg.ends_with(expect), "{text:?}: {msg}");
            assert!(!msg.contains("secret"), "{msg}");
        }
        let path = write(dir.path(), "identifier,password\n\na@x,pw\n");
        assert_eq!(LoginsFile::open(&path).unwrap().check_all().unwrap(), 1);
    }
}
