//! Whole-file replacement that readers never see half done.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Writes `bytes` to `temp`, flushes them to disk, then renames `temp` over `target`.
///
/// A reader opening `target` sees either the old or the new content, never a torn write,
/// and a crash leaves at worst a stray temporary file. `mode` sets Unix permissions on the
/// new file before any byte is written, so secrets are never readable by others, not even
/// briefly.
pub fn replace(target: &Path, temp: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    let written = write_synced(temp, bytes, mode).and_then(|()| fs::rename(temp, target));
    if let Err(err) = written {
        let _ = fs::remove_file(temp);
        return Err(err);
    }

    match target.parent() {
        Some(dir) => sync_dir(dir),
        None => Ok(()),
    }
}

/// Makes a rename or removal in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn write_synced(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    set_mode(&mut options, mode);

    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(unix)]
fn set_mode(options: &mut OpenOptions, mode: Option<u32>) {
    use std::os::unix::fs::OpenOptionsExt;

    if let Some(mode) = mode {
        options.mode(mode);
    }
}

#[cfg(not(unix))]
fn set_mode(_options: &mut OpenOptions, _mode: Option<u32>) {}
