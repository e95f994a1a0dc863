//! NDJSON cut into blocks of whole lines, so that the lines of one file can be parsed on
//! several threads while one thread reads (and decompresses) the file.
//!
//! A block knows the number of the line it starts on, so every record in it can be located
//! without the blocks before it; only a record's 0-based index needs the count of records in
//! the blocks before it, and the reader that puts results back in file order adds that.
//! Lines are numbered, trimmed and skipped exactly as [`read_json_records`] does for NDJSON
//! (see `ndjson.rs`), so a reader built on blocks reports the same places.
//!
//! [`read_json_records`]: super::read_json_records

use std::io::{self, BufRead};

use super::Offset;
use super::ndjson::trim_line;
use crate::sources::ExportReader;

/// How many bytes of whole lines a block holds (it may hold more when a line is longer, and
/// ends at the end of the file). Big enough that handing a block to a thread costs little
/// next to parsing it, small enough that the few blocks in flight stay a few MiB.
pub const BLOCK_BYTES: usize = 512 * 1024;

/// Reads an NDJSON export block by block. Created by
/// [`open_json_records`](super::open_json_records).
pub struct NdjsonBlocks {
    reader: ExportReader,
    /// Lines before the next block.
    lines_before: u64,
    /// Column shift of the first line (what format detection consumed of it).
    column_shift: u64,
    /// A read error met after the last complete line, reported after the block before it.
    failure: Option<ReadFailure>,
    done: bool,
}

/// A read error: the file cannot be read past the line before `line`.
#[derive(Debug)]
pub struct ReadFailure {
    /// The 1-based line being read when the error happened.
    pub line: u64,
    /// What went wrong.
    pub error: io::Error,
}

/// Whole lines of an NDJSON file.
pub struct LineBlock {
    bytes: Vec<u8>,
    lines_before: u64,
    column_shift: u64,
}

/// Shows where the block is, never its bytes: they may be rows of a password export.
impl std::fmt::Debug for LineBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineBlock")
            .field("lines_before", &self.lines_before)
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

/// One non-blank line of a block.
pub struct NdjsonLine<'a> {
    /// Its 1-based line number in the file.
    pub line: u64,
    /// The record's text, without BOM, terminator and trailing whitespace.
    pub text: &'a [u8],
    /// Columns consumed before this line's first byte by format detection (only ever non-zero
    /// for the first line of the file); add it to parser columns.
    pub column_shift: u64,
}

impl NdjsonBlocks {
    pub(super) fn new(reader: ExportReader, offset: Offset) -> Self {
        Self {
            reader,
            lines_before: offset.lines,
            column_shift: offset.column,
            failure: None,
            done: false,
        }
    }

    /// The next block of at least `min_bytes` bytes of whole lines (fewer at the end of the
    /// file), or the error that ends the file, or `None` after the last block.
    pub fn next_block(&mut self, min_bytes: usize) -> Option<Result<LineBlock, ReadFailure>> {
        if let Some(failure) = self.failure.take() {
            self.done = true;
            return Some(Err(failure));
        }
        if self.done {
            return None;
        }
        let mut bytes = Vec::with_capacity(min_bytes + 64 * 1024);
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    // Everything up to the last newline is readable: hand it over first, as
                    // a line-by-line reader would have, then the error on the next line.
                    let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                    bytes.truncate(complete);
                    let line = self.lines_before + newlines(&bytes) + 1;
                    self.failure = Some(ReadFailure { line, error });
                    if bytes.is_empty() {
                        return self.next_block(min_bytes);
                    }
                    return Some(Ok(self.seal(bytes)));
                }
            };
            if buf.is_empty() {
                self.done = true;
                return (!bytes.is_empty()).then(|| Ok(self.seal(bytes)));
            }
            let room = min_bytes.saturating_sub(bytes.len());
            // Not full yet, or full but without a line end in what is buffered: take it all.
            let take = match buf.iter().rposition(|&b| b == b'\n') {
                Some(last) if buf.len() >= room => last + 1,
                _ => buf.len(),
            };
            bytes.extend_from_slice(&buf[..take]);
            self.reader.consume(take);
            if bytes.len() >= min_bytes && bytes.last() == Some(&b'\n') {
                return Some(Ok(self.seal(bytes)));
            }
        }
    }

    fn seal(&mut self, bytes: Vec<u8>) -> LineBlock {
        let block = LineBlock {
            lines_before: self.lines_before,
            column_shift: std::mem::take(&mut self.column_shift),
            bytes,
        };
        self.lines_before += newlines(&block.bytes);
        block
    }
}

impl LineBlock {
    /// The block's non-blank lines, in order.
    pub fn lines(&self) -> impl Iterator<Item = NdjsonLine<'_>> {
        let mut shift = self.column_shift;
        RawLines(&self.bytes)
            .zip(self.lines_before + 1..)
            .filter_map(move |(raw, line)| {
                let column_shift = std::mem::take(&mut shift);
                let text = trim_line(raw);
                (!text.is_empty()).then_some(NdjsonLine {
                    line,
                    text,
                    column_shift,
                })
            })
    }
}

/// The lines of a block, each with its `\n` if it has one (what `read_until` gives).
struct RawLines<'a>(&'a [u8]);

impl<'a> Iterator for RawLines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        let end = find_newline(self.0).map_or(self.0.len(), |i| i + 1);
        let (line, rest) = self.0.split_at(end);
        self.0 = rest;
        Some(line)
    }
}

/// The index of the first `\n` in `bytes`, eight bytes at a time: every byte of the export
/// goes through here, and a byte-by-byte search was a visible share of the parse.
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut words = bytes.chunks_exact(8);
    for (i, word) in words.by_ref().enumerate() {
        let mut le = [0u8; 8];
        le.copy_from_slice(word);
        let x = u64::from_le_bytes(le) ^ NEWLINES;
        // The lowest set high bit marks the first zero byte of `x` exactly (a borrow can only
        // flag bytes above a real zero), i.e. the first newline.
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(i * 8 + zero.trailing_zeros() as usize / 8);
        }
    }
    let tail = words.remainder();
    tail.iter()
        .position(|&b| b == b'\n')
        .map(|i| bytes.len() - tail.len() + i)
}

/// The number of `\n` bytes.
fn newlines(bytes: &[u8]) -> u64 {
    count_byte(bytes, b'\n')
}

/// The number of `byte`s in `bytes`. Counted per chunk of 255 into a byte-sized sum, which the
/// compiler turns into wide vector compares; a plain `filter().count()` adds into 64-bit lanes
/// and runs several times slower, on every byte of the export.
pub fn count_byte(bytes: &[u8], byte: u8) -> u64 {
    bytes
        .chunks(255)
        .map(|chunk| u64::from(chunk.iter().map(|&b| u8::from(b == byte)).sum::<u8>()))
        .sum()
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::*;

    fn blocks_of(bytes: &'static [u8], offset: Offset, min: usize) -> Vec<Vec<(u64, String)>> {
        let reader: ExportReader = Box::new(std::io::BufReader::with_capacity(7, bytes));
        let mut blocks = NdjsonBlocks::new(reader, offset);
        let mut out = Vec::new();
        while let Some(block) = blocks.next_block(min) {
            let block = block.expect("readable");
            out.push(
                block
                    .lines()
                    .map(|l| (l.line, String::from_utf8_lossy(l.text).into_owned()))
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn the_newline_search_finds_the_first_one() {
        for len in 0..40 {
            for at in 0..=len {
                let mut bytes = vec![b'a'; len];
                // Bytes that differ from `\n` by one bit, and a newline after the first.
                for (i, b) in bytes.iter_mut().enumerate() {
                    *b = [b'\x0b', b'\x08', b'\x8a', b'x'][i % 4];
                }
                if at < len {
                    bytes[at] = b'\n';
                    if at + 1 < len {
                        bytes[at + 1] = b'\n';
                    }
                }
                let expected = bytes.iter().position(|&b| b == b'\n');
                assert_eq!(find_newline(&bytes), expected, "len {len} at {at}");
            }
        }
    }

    #[test]
    fn newlines_are_counted_exactly() {
        for len in [0, 1, 254, 255, 256, 1000, 70_000] {
            let bytes: Vec<u8> = (0..len)
                .map(|i| if i % 3 == 0 { b'\n' } else { b'x' })
                .collect();
            let expected = (0..len).filter(|i| i % 3 == 0).count() as u64;
            assert_eq!(newlines(&bytes), expected, "{len}");
        }
        assert_eq!(newlines(&[b'\n'; 1000]), 1000);
    }

    #[test]
    fn lines_keep_their_numbers_across_blocks() {
        let text = b"{\"a\":1}\r\n\n\xEF\xBB\xBF{\"b\":2}\n   \n{\"c\":3}\n{\"d\":4}";
        for min in [1, 5, 16, 1000] {
            let flat: Vec<(u64, String)> = blocks_of(text, Offset::default(), min)
                .into_iter()
                .flatten()
                .collect();
            assert_eq!(
                flat,
                [
                    (1, "{\"a\":1}".to_owned()),
                    (3, "{\"b\":2}".to_owned()),
                    (5, "{\"c\":3}".to_owned()),
                    (6, "{\"d\":4}".to_owned()),
                ],
                "min {min}"
            );
        }
        // Small blocks end on line ends; one big block holds everything.
        assert!(blocks_of(text, Offset::default(), 1).len() > 2);
        assert_eq!(blocks_of(text, Offset::default(), 1000).len(), 1);
    }

    #[test]
    fn the_first_line_carries_the_sniffed_offset() {
        let reader: ExportReader = Box::new(Cursor::new(b"{}\n{}\n".to_vec()));
        let offset = Offset {
            lines: 2,
            column: 3,
        };
        let mut blocks = NdjsonBlocks::new(reader, offset);
        let mut seen = Vec::new();
        while let Some(block) = blocks.next_block(1) {
            let block = block.expect("readable");
            seen.extend(block.lines().map(|l| (l.line, l.column_shift)));
        }
        assert_eq!(seen, [(3, 3), (4, 0)]);
    }

    /// Yields `good`, then fails.
    struct FailsAfter(Cursor<Vec<u8>>);

    impl Read for FailsAfter {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::other("broken")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn a_read_error_comes_after_the_complete_lines_and_names_the_next_line() {
        let inner = FailsAfter(Cursor::new(b"{}\n\n{}\n{\"partial".to_vec()));
        let reader: ExportReader = Box::new(std::io::BufReader::with_capacity(4, inner));
        let mut blocks = NdjsonBlocks::new(reader, Offset::default());
        let block = blocks.next_block(1 << 20).expect("a block").expect("lines");
        assert_eq!(block.lines().map(|l| l.line).collect::<Vec<_>>(), [1, 3]);
        let failure = blocks
            .next_block(1 << 20)
            .expect("the error")
            .expect_err("fails");
        assert_eq!(failure.line, 4);
        assert!(blocks.next_block(1 << 20).is_none());
    }
}
