//! Exclusive advisory locks on lock files, shared by threads and by processes.
//!
//! `flock`-style locks belong to the open file, so two handles in one process exclude each
//! other just as two processes do, and the kernel drops the lock when a process dies: a
//! crashed writer can never leave a key locked forever, which `create_new` lock files would.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Holds the lock until dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    /// Blocks until the lock on `path` is ours, creating the file if needed. Returns `None`
    /// when the directory of `path` does not exist and `create_dirs` is false, so a caller
    /// that only reads or updates never litters the tree for keys that are absent.
    ///
    /// Blocking: call it from `spawn_blocking`, never on an async worker thread.
    pub fn acquire(path: &Path, create_dirs: bool) -> io::Result<Option<Self>> {
        if create_dirs && let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }

        let opened = OpenOptions::new().create(true).truncate(false).write(true).open(path);
        let file = match opened {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound && !create_dirs => return Ok(None),
            Err(err) => return Err(err),
        };

        lock_exclusive(&file)?;
        Ok(Some(Self { file }))
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the handle releases the lock anyway; unlocking first just makes it prompt.
        let _ = unlock(&self.file);
    }
}

// TODO-cleanup `File::lock` is stable since Rust 1.89 while the workspace still declares
// `rust-version = "1.88"`; remove these allows once the workspace MSRV is raised.
#[allow(clippy::incompatible_msrv)]
fn lock_exclusive(file: &File) -> io::Result<()> {
    file.lock()
}

#[allow(clippy::incompatible_msrv)]
fn unlock(file: &File) -> io::Result<()> {
    file.unlock()
}
