//! The on-disk half of the index: the spool, an anonymous temporary file of compact records
//! (a row's id, its hash and where it is in the export), and each thread's read window on it.

use std::fs::File;
use std::io;

use super::BCRYPT_LEN;

/// The two kinds of spool record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A valid row: the user's hash.
    Valid,
    /// The first invalid row that named this user, for the report.
    Rejected,
}

/// A spool record: `kind` (1 byte), id length (u32), line (u64, 0 when unknown), record index
/// (u64), ordinal among valid rows (u64), the id, then for a valid row the 60 hash bytes. All
/// integers little-endian.
const HEADER: usize = 1 + 4 + 8 + 8 + 8;

/// One spool record's fields, as they are written.
pub(super) struct SpoolEntry<'a> {
    pub kind: Kind,
    pub user_id: &'a str,
    pub line: Option<u64>,
    pub index: u64,
    /// Among valid rows; 0 for a rejected one.
    pub ordinal: u64,
    /// The bcrypt bytes of a valid row; empty for a rejected one.
    pub hash: &'a [u8],
}

impl SpoolEntry<'_> {
    /// Appends the record's bytes to `out`.
    pub(super) fn encode(&self, out: &mut Vec<u8>) -> io::Result<()> {
        let id_len = u32::try_from(self.user_id.len()).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "user id longer than 4 GiB")
        })?;
        out.push(match self.kind {
            Kind::Valid => b'V',
            Kind::Rejected => b'R',
        });
        out.extend_from_slice(&id_len.to_le_bytes());
        out.extend_from_slice(&self.line.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.index.to_le_bytes());
        out.extend_from_slice(&self.ordinal.to_le_bytes());
        out.extend_from_slice(self.user_id.as_bytes());
        out.extend_from_slice(self.hash);
        Ok(())
    }
}

/// A record read back from the spool, borrowed from a [`SpoolCache`].
pub(super) struct SpoolRecord<'a> {
    pub kind: Kind,
    pub line: Option<u64>,
    pub index: u64,
    pub ordinal: u64,
    pub id: &'a [u8],
    /// The bcrypt bytes of a valid row; empty for a rejected one.
    pub hash: &'a [u8],
    /// The record's length in the spool.
    pub len: usize,
}

/// Reads the record at the start of `bytes`: `Ok(None)` when `bytes` ends before it does.
fn parse_record(bytes: &[u8]) -> io::Result<Option<SpoolRecord<'_>>> {
    let Some(header) = bytes.get(..HEADER) else {
        return Ok(None);
    };
    let kind = match header[0] {
        b'V' => Kind::Valid,
        b'R' => Kind::Rejected,
        _ => return Err(corrupt()),
    };
    let word = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&header[at..at + 8]);
        u64::from_le_bytes(word)
    };
    let id_len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let hash_len = if kind == Kind::Valid { BCRYPT_LEN } else { 0 };
    let len = HEADER + id_len + hash_len;
    let Some(body) = bytes.get(HEADER..len) else {
        return Ok(None);
    };
    let (id, hash) = body.split_at(id_len);
    let line = word(5);
    Ok(Some(SpoolRecord {
        kind,
        line: (line != 0).then_some(line),
        index: word(13),
        ordinal: word(21),
        id,
        hash,
        len,
    }))
}

/// The length of the record that starts with `header` (at least [`HEADER`] bytes).
fn record_len(header: &[u8]) -> usize {
    let id_len = u32::from_le_bytes([header[1], header[2], header[3], header[4]]) as usize;
    HEADER + id_len + if header[0] == b'V' { BCRYPT_LEN } else { 0 }
}

/// One thread's read window on the spool: the bytes of the last positioned read, so that
/// looking up rows in about the order they were written costs one read per window, not one
/// per row.
#[derive(Default)]
pub(crate) struct SpoolCache {
    buf: Vec<u8>,
    /// The spool offset of `buf[0]`.
    start: u64,
    /// The offset after the last valid record a lookup found: the likely next match.
    pub(super) next: u64,
}

/// Bytes read at a time while lookups go forward through the spool: a few dozen records.
const WINDOW: usize = 8 * 1024;

/// Bytes read at a time for a lookup that jumps elsewhere (users in another order than the
/// export): a record or a few, so that random lookups do not copy a whole window each.
const SMALL_READ: usize = 512;

impl SpoolCache {
    pub(super) fn record<'a>(
        &'a mut self,
        file: &File,
        offset: u64,
    ) -> io::Result<SpoolRecord<'a>> {
        let len = record_len(self.bytes(file, offset, HEADER)?);
        parse_record(self.bytes(file, offset, len)?)?.ok_or_else(corrupt)
    }

    /// The record at `offset` if the window holds all of it (no I/O).
    pub(super) fn cached(&self, offset: u64) -> Option<SpoolRecord<'_>> {
        let at = usize::try_from(offset.checked_sub(self.start)?).ok()?;
        parse_record(self.buf.get(at..)?).ok().flatten()
    }

    /// `len` bytes of the spool from `offset`, read from the file unless the window has them.
    fn bytes(&mut self, file: &File, offset: u64, len: usize) -> io::Result<&[u8]> {
        let end = offset + len as u64;
        let cached = offset >= self.start && end <= self.start + self.buf.len() as u64;
        if !cached {
            // Reading on from the current window: a whole window; a jump: a small read.
            let window_end = self.start + self.buf.len() as u64;
            let forward = offset >= self.start && offset <= window_end + WINDOW as u64;
            let want = if forward { WINDOW } else { SMALL_READ };
            self.buf.resize(len.max(want), 0);
            let mut got = 0;
            while got < self.buf.len() {
                match read_at(file, &mut self.buf[got..], offset + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.buf.clear();
                        return Err(e);
                    }
                }
            }
            self.buf.truncate(got);
            self.start = offset;
            if got < len {
                return Err(corrupt());
            }
        }
        let at = (offset - self.start) as usize;
        Ok(&self.buf[at..at + len])
    }
}

fn corrupt() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "the temporary password index does not hold the expected record",
    )
}

/// A positioned read that leaves other readers of the same file alone.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

/// A positioned read that leaves other readers of the same file alone.
#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}
