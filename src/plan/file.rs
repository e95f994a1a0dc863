//! Plan files: sealed NDJSON on disk, written and read as a stream, and the SHA-256 helpers
//! plans bind themselves with.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use std::collections::HashMap;

use super::{
    Action, Change, FORMAT_VERSION, LISTED_PER_GROUP, ObjectKind, Plan, PlanFooter, PlanHeader,
    PlanLine, Seal,
};

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

/// SHA-256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of a file's bytes, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// SHA-256 of a file, or of a directory's files (an auth0-deploy-cli export): each file's
/// relative path and digest, in path order.
pub fn sha256_path(path: &Path) -> std::io::Result<String> {
    if !path.is_dir() {
        return sha256_file(path);
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    let mut hasher = Sha256::new();
    for f in files {
        let rel = f.strip_prefix(path).unwrap_or(&f);
        hasher.update(rel.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(sha256_file(&f)?.as_bytes());
        hasher.update([0]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// The folder a file is in (`.` for a bare file name).
pub fn folder_of(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// Writes a plan file as a stream: the header first, each change as it is found, then the
/// footer and the seal. It writes to a temporary file that becomes the plan only through
/// [`WrittenPlan::persist`], so a crash or an error never leaves half a plan that could be
/// applied.
pub struct PlanWriter {
    out: BufWriter<NamedTempFile>,
    hasher: Sha256,
    path: String,
    line: Vec<u8>,
}

impl std::fmt::Debug for PlanWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A sealed plan file, still temporary until persisted.
#[derive(Debug)]
pub struct WrittenPlan {
    file: NamedTempFile,
    /// The seal.
    pub plan_id: String,
}

impl WrittenPlan {
    /// Where the temporary file is (it is removed when this is dropped).
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Moves the plan to `path` atomically.
    pub fn persist(self, path: &Path) -> Result<(), PlanFileError> {
        self.file
            .persist(path)
            .map_err(|e| io_error("write", path, e.error))?;
        Ok(())
    }
}

fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> PlanFileError {
    PlanFileError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

impl PlanWriter {
    /// Starts a plan file that will be persisted in `dir` (a temporary file there, so the
    /// final rename stays on one filesystem), or in the system's temporary folder.
    pub fn create(dir: Option<&Path>, header: &PlanHeader) -> Result<Self, PlanFileError> {
        let dir = dir
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(std::env::temp_dir, Path::to_path_buf);
        let file = tempfile::Builder::new()
            .prefix(".avnology-plan-")
            .tempfile_in(&dir)
            .map_err(|e| io_error("write", &dir, e))?;
        let mut writer = Self {
            path: file.path().display().to_string(),
            out: BufWriter::with_capacity(1 << 16, file),
            hasher: Sha256::new(),
            line: Vec::with_capacity(512),
        };
        writer.write_line(&PlanLineRef::Header(header))?;
        Ok(writer)
    }

    /// Appends one change.
    pub fn change(&mut self, change: &Change) -> Result<(), PlanFileError> {
        self.write_line(&PlanLineRef::Change(change))
    }

    /// Writes the footer and the seal, and flushes the file to disk.
    pub fn finish(mut self, footer: &PlanFooter) -> Result<WrittenPlan, PlanFileError> {
        self.write_line(&PlanLineRef::Footer(footer))?;
        let plan_id = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let seal = PlanLine::Seal(Seal {
            plan_id: plan_id.clone(),
        });
        let err = |e: std::io::Error| PlanFileError::Io {
            action: "write",
            path: self.path.clone(),
            source: e,
        };
        serde_json::to_writer(&mut self.out, &seal).map_err(|e| err(e.into()))?;
        self.out.write_all(b"\n").map_err(err)?;
        let file = self.out.into_inner().map_err(|e| err(e.into_error()))?;
        file.as_file().sync_all().map_err(err)?;
        Ok(WrittenPlan { file, plan_id })
    }

    fn write_line(&mut self, line: &PlanLineRef<'_>) -> Result<(), PlanFileError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, line).map_err(|e| PlanFileError::Io {
            action: "write",
            path: self.path.clone(),
            source: e.into(),
        })?;
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        self.out
            .write_all(&self.line)
            .map_err(|source| PlanFileError::Io {
                action: "write",
                path: self.path.clone(),
                source,
            })
    }
}

/// [`PlanLine`] by reference, so writing a change does not copy it.
#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum PlanLineRef<'a> {
    Header(&'a PlanHeader),
    Change(&'a Change),
    Footer(&'a PlanFooter),
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

/// What a plan shows for review (counts and the sample of each group's first changes, with
/// the fields of creates) checked against the change lines `apply` executes, so an edited
/// and re-sealed plan cannot show one thing and do another. The sample is, by construction,
/// the first [`LISTED_PER_GROUP`] changes of each kind and action in file order; a create's
/// fields in the sample must hash to the desired digest its change line carries, which
/// `apply` checks against the record it re-reads from the source.
#[derive(Default)]
struct ReviewCheck {
    counts: HashMap<(ObjectKind, Action), u64>,
    first: HashMap<(ObjectKind, Action), Vec<Change>>,
}

impl ReviewCheck {
    fn add(&mut self, line: &[u8]) -> Result<(), String> {
        #[derive(serde::Deserialize)]
        struct Probe {
            change: KindAction,
        }
        #[derive(serde::Deserialize)]
        struct KindAction {
            kind: ObjectKind,
            action: Action,
        }
        let probe: Probe = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        let group = (probe.change.kind, probe.change.action);
        let count = self.counts.entry(group).or_default();
        *count += 1;
        if *count <= LISTED_PER_GROUP as u64 {
            match serde_json::from_slice::<PlanLine>(line) {
                Ok(PlanLine::Change(c)) => self.first.entry(group).or_default().push(c),
                Ok(_) => return Err("not a change".into()),
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }

    fn check(mut self, footer: &PlanFooter) -> Result<(), String> {
        for g in &footer.groups {
            let have = self.counts.remove(&(g.kind, g.action)).unwrap_or(0);
            if have != g.count {
                return Err(format!(
                    "it counts {} {} to be {} but holds {have}",
                    g.count,
                    g.kind.plural(),
                    g.action.verb()
                ));
            }
        }
        if let Some(((kind, action), n)) = self.counts.iter().next() {
            return Err(format!(
                "it holds {n} {} to be {} that it does not count",
                kind.plural(),
                action.verb()
            ));
        }
        let mut position: HashMap<(ObjectKind, Action), usize> = HashMap::new();
        for shown in &footer.sample {
            let group = (shown.kind, shown.action);
            let i = position.entry(group).or_default();
            let line = self
                .first
                .get(&group)
                .and_then(|changes| changes.get(*i))
                .ok_or_else(|| {
                    format!(
                        "its sample shows {} `{}` that is not among its changes",
                        shown.kind.noun(),
                        shown.key
                    )
                })?;
            *i += 1;
            let same = if shown.kind == ObjectKind::Identity && shown.action == Action::Create {
                // The line carries no fields; the sample's must be the record the digest is of.
                let fields: std::collections::BTreeMap<String, serde_json::Value> = shown
                    .fields
                    .iter()
                    .filter_map(|f| Some((f.path.clone(), f.after.clone()?)))
                    .collect();
                let bound = shown.fields.is_empty()
                    || shown.desired_digest.as_deref()
                        == Some(crate::diff::desired_digest(&fields).as_str());
                bound
                    && Change {
                        fields: Vec::new(),
                        ..shown.clone()
                    } == *line
            } else {
                shown == line
            };
            if !same {
                return Err(format!(
                    "its sample shows {} `{}` differently from the change it applies",
                    shown.kind.noun(),
                    shown.key
                ));
            }
        }
        for (group, changes) in &self.first {
            if position.get(group).copied().unwrap_or(0) != changes.len() {
                return Err(format!(
                    "its sample leaves out some of the first {} to be {}",
                    group.0.plural(),
                    group.1.verb()
                ));
            }
        }
        Ok(())
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
mod tests {
    use super::*;
    use crate::plan::{Action, FileDigest, ObjectKind, PlanTarget};

    fn header() -> PlanHeader {
        PlanHeader {
            format_version: FORMAT_VERSION,
            tool_version: "0.1.0".into(),
            created_at: "2026-12-01T00:00:00Z".into(),
            destroy: false,
            target: PlanTarget {
                url: "sandbox:.avnology-sandbox".into(),
                organization: None,
                organization_id: None,
            },
            manifest: FileDigest {
                path: "migration.toml".into(),
                sha256: "m".into(),
            },
            sources: vec![],
            only: vec![],
        }
    }

    /// A create as the sample shows it: with its fields, which its digest is of.
    fn create(key: &str) -> Change {
        let email = serde_json::Value::String(format!("{}@example.com", key.replace('|', "-")));
        let desired = std::collections::BTreeMap::from([("email".to_string(), email.clone())]);
        Change {
            kind: ObjectKind::Identity,
            action: Action::Create,
            key: key.into(),
            source: Some("s".into()),
            live_id: None,
            etag: None,
            desired_digest: Some(crate::diff::desired_digest(&desired)),
            fields: vec![crate::diff::FieldChange {
                path: "email".into(),
                before: None,
                after: Some(email),
                sensitive: false,
            }],
            record: Some(0),
        }
    }

    fn written(dir: &Path, n: usize) -> PathBuf {
        let mut w = PlanWriter::create(Some(dir), &header()).unwrap();
        let mut sample = Vec::new();
        for i in 0..n {
            let c = create(&format!("auth0|{i}"));
            w.change(&Change {
                fields: vec![],
                ..c.clone()
            })
            .unwrap();
            sample.push(c);
        }
        let path = dir.join("plan.json");
        let footer = PlanFooter {
            groups: vec![crate::plan::GroupCount {
                kind: ObjectKind::Identity,
                action: Action::Create,
                count: n as u64,
            }],
            sample,
            ..PlanFooter::default()
        };
        w.finish(&footer).unwrap().persist(&path).unwrap();
        path
    }

    /// Seals `text` (a plan without its seal line) again, as someone editing it would.
    fn resealed(text: &str) -> String {
        let body: String = text
            .lines()
            .filter(|l| !l.starts_with("{\"seal\""))
            .map(|l| format!("{l}\n"))
            .collect();
        format!(
            "{body}{{\"seal\":{{\"plan_id\":\"{}\"}}}}\n",
            sha256_hex(body.as_bytes())
        )
    }

    #[test]
    fn a_resealed_plan_that_shows_other_than_it_applies_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let path = written(d.path(), 3);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(PlanFile::open(&path).is_ok());

        // The sample shows another email than the record the create's digest binds.
        std::fs::write(
            &path,
            resealed(&text.replace("auth0-1@example.com", "ceo@example.com")),
        )
        .unwrap();
        let e = PlanFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("shows identity `auth0|1` differently"), "{e}");

        // A change added to the lines but not to the counts or the sample.
        let extra = text
            .lines()
            .find(|l| l.contains("\"auth0|2\""))
            .unwrap()
            .replace("auth0|2", "auth0|3");
        let added = text.replacen("{\"footer\"", &format!("{extra}\n{{\"footer\""), 1);
        std::fs::write(&path, resealed(&added)).unwrap();
        let e = PlanFile::open(&path).unwrap_err().to_string();
        assert!(
            e.contains("counts 3 identities") && e.contains("holds 4"),
            "{e}"
        );
    }

    #[test]
    fn a_plan_streams_back_in_order_and_its_seal_is_the_hash_of_what_precedes_it() {
        let d = tempfile::tempdir().unwrap();
        let path = written(d.path(), 3);
        let file = PlanFile::open(&path).unwrap();
        let keys: Vec<crate::model::ExternalId> =
            file.changes().unwrap().map(|c| c.unwrap().key).collect();
        assert_eq!(keys, ["auth0|0", "auth0|1", "auth0|2"]);
        let text = std::fs::read_to_string(&path).unwrap();
        let (before, seal) = text.trim_end().rsplit_once('\n').unwrap();
        assert_eq!(
            seal,
            format!(
                "{{\"seal\":{{\"plan_id\":\"{}\"}}}}",
                sha256_hex(format!("{before}\n").as_bytes())
            )
        );
        assert_eq!(
            file.plan.plan_id,
            sha256_hex(format!("{before}\n").as_bytes())
        );
    }

    #[test]
    fn an_edited_cut_or_old_plan_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let path = written(d.path(), 3);
        let text = std::fs::read_to_string(&path).unwrap();

        std::fs::write(&path, text.replace("auth0|1", "auth0|9")).unwrap();
        let e = PlanFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("do not match its plan_id"), "{e}");

        let cut: Vec<&str> = text.lines().collect();
        std::fs::write(&path, cut[..cut.len() - 1].join("\n")).unwrap();
        let e = PlanFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("no seal"), "{e}");

        std::fs::write(&path, "{\n  \"format_version\": 1,\n  \"changes\": []\n}\n").unwrap();
        let e = PlanFile::open(&path).unwrap_err().to_string();
        assert!(
            e.contains("format_version 1 is not supported") && e.contains("plan --out"),
            "{e}"
        );

        std::fs::write(
            &path,
            text.replace("\"format_version\":2", "\"format_version\":3"),
        )
        .unwrap();
        let e = PlanFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("format_version 3 is not supported"), "{e}");
    }

    #[test]
    fn a_partial_plans_selection_is_sealed_and_a_plan_without_one_still_opens() {
        let d = tempfile::tempdir().unwrap();
        let mut w = PlanWriter::create(
            Some(d.path()),
            &PlanHeader {
                only: vec!["identity:auth0|1".into()],
                ..header()
            },
        )
        .unwrap();
        let c = create("auth0|1");
        w.change(&Change {
            fields: vec![],
            ..c.clone()
        })
        .unwrap();
        let footer = PlanFooter {
            groups: vec![crate::plan::GroupCount {
                kind: ObjectKind::Identity,
                action: Action::Create,
                count: 1,
            }],
            sample: vec![c],
            ..PlanFooter::default()
        };
        let path = d.path().join("partial.json");
        w.finish(&footer).unwrap().persist(&path).unwrap();
        let file = PlanFile::open(&path).unwrap();
        assert!(file.plan.is_partial());
        assert_eq!(file.plan.header.only, ["identity:auth0|1"]);

        // Widening the selection in place breaks the seal.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replacen(
                "\"only\":[\"identity:auth0|1\"]",
                "\"only\":[\"source:s\"]",
                1,
            ),
        )
        .unwrap();
        let e = PlanFile::open(&path).unwrap_err().to_string();
        assert!(e.contains("do not match its plan_id"), "{e}");

        // A plan written before selections existed has no `only` and is a full plan.
        let full = written(d.path(), 1);
        assert!(!std::fs::read_to_string(&full).unwrap().contains("\"only\""));
        assert!(!PlanFile::open(&full).unwrap().plan.is_partial());
    }

    #[test]
    fn a_plan_changed_after_it_was_opened_stops_the_stream() {
        let d = tempfile::tempdir().unwrap();
        let path = written(d.path(), 3);
        let file = PlanFile::open(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("auth0|2", "auth0|7")).unwrap();
        let results: Vec<_> = file.changes().unwrap().collect();
        assert!(results.last().unwrap().is_err(), "{results:?}");
    }
}
