//! Opening an export file: gzip is detected by its magic bytes (not only the `.gz` suffix),
//! and the result is a buffered reader, so every reader streams.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

/// A buffered, transparently decompressed export.
pub type ExportReader = Box<dyn BufRead + Send>;

/// Opens `path` for streaming, decompressing gzip when the file starts with the gzip magic.
pub fn open_export(path: &Path) -> io::Result<ExportReader> {
    let file = File::open(path)?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let is_gzip = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    if is_gzip {
        // Multi-member: `cat a.gz b.gz` is valid gzip and some exporters write it.
        let decoder: Box<dyn Read + Send> = Box::new(MultiGzDecoder::new(reader));
        Ok(Box::new(BufReader::with_capacity(256 * 1024, decoder)))
    } else {
        Ok(Box::new(reader))
    }
}
