//! The embedded default state store: one file per key under a root directory.
//!
//! # Layout
//! Key `deployments/abc/state` lives in `<root>/deployments/abc/state~doc`; its lock file is
//! `state~lock` beside it. A document file is one line of JSON header (ETag, version,
//! lease) followed by the body bytes, so body and ETag always change together in one
//! rename.
//!
//! # Guarantees
//! Every compare-and-swap (put, delete, lease) runs under an exclusive lock on the key's
//! lock file, so writers in this process and in other processes sharing the directory are
//! serialised per key. Reads take no lock: the rename makes each write atomic.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use polaris_core::ports::{ETag, Lease, StateStore, StoreError, Versioned, WriteCondition};
use tracing::debug;
use uuid::Uuid;

use super::atomic_file;
use super::file_lock::FileLock;
use super::key::{self, DOC_SUFFIX, KeyPaths};
use super::lease_book::LeaseBook;
use super::record::{self, Header, Record};
use crate::clock::Clock;

/// State on local disk, safe for concurrent writers in one or several processes.
///
/// Clones share one lease book: like the Blob adapter, an instance (and its clones)
/// stands for one process, whose writes pass a lease it took while other instances' writes
/// to that key fail with `Leased`.
#[derive(Clone)]
pub struct LocalDiskStore {
    root: Arc<Path>,
    clock: Arc<dyn Clock>,
    leases: Arc<LeaseBook>,
}

impl LocalDiskStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn new(root: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let root: PathBuf = root.into();
        fs::create_dir_all(&root).map_err(|err| io_error("create", &root, &err))?;
        Ok(Self { root: root.into(), clock, leases: Arc::default() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn paths(&self, key: &str) -> Result<KeyPaths, StoreError> {
        key::validate(key)?;
        Ok(KeyPaths::new(&self.root, key))
    }
}

impl fmt::Debug for LocalDiskStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalDiskStore").field("root", &self.root).finish_non_exhaustive()
    }
}

#[async_trait]
impl StateStore for LocalDiskStore {
    async fn get(&self, key: &str) -> Result<Versioned, StoreError> {
        let paths = self.paths(key)?;
        let key = key.to_owned();

        blocking(move || match read_record(&paths.doc)? {
            Some(record) => Ok(record.versioned()),
            None => Err(StoreError::NotFound { key }),
        })
        .await
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        condition: WriteCondition,
    ) -> Result<ETag, StoreError> {
        let paths = self.paths(key)?;
        let key = key.to_owned();
        let (clock, leases) = (self.clock.clone(), self.leases.clone());

        blocking(move || {
            let creating = condition == WriteCondition::CreateOnly;
            let lock = lock_key(&paths, creating)?;
            let current = read_locked(&paths, lock.as_ref())?;

            let mint = |version| format!("{version}-{}", Uuid::new_v4().simple());
            let updated = record::put(&key, current.as_ref(), body, &condition, mint)?;
            leases.check_write(&key, current.as_ref(), clock.now())?;

            write_record(&paths, &updated)?;
            debug!(key = %key, version = updated.header.version, "stored document");
            Ok(ETag(updated.header.etag))
        })
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        let after = after.map(str::to_owned);

        blocking(move || {
            let mut keys = keys_under(&root, &prefix)?;
            keys.sort_unstable();

            let keys = keys
                .into_iter()
                .filter(|key| key.starts_with(&prefix))
                .filter(|key| after.as_deref().is_none_or(|after| key.as_str() > after))
                .take(limit)
                .collect();
            Ok(keys)
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let paths = self.paths(key)?;
        let key = key.to_owned();
        let (clock, leases) = (self.clock.clone(), self.leases.clone());

        blocking(move || {
            let lock = lock_key(&paths, false)?;
            let Some(current) = read_locked(&paths, lock.as_ref())? else {
                return Err(StoreError::NotFound { key });
            };
            leases.check_write(&key, Some(&current), clock.now())?;

            fs::remove_file(&paths.doc).map_err(|err| io_error("delete", &paths.doc, &err))?;
            leases.forget_key(&key);
            atomic_file::sync_dir(&paths.dir).map_err(|err| io_error("sync", &paths.dir, &err))
        })
        .await
    }

    async fn acquire_lease(&self, key: &str, seconds: u32) -> Result<Lease, StoreError> {
        let paths = self.paths(key)?;
        let key = key.to_owned();
        let (clock, leases) = (self.clock.clone(), self.leases.clone());

        blocking(move || {
            let lock = lock_key(&paths, false)?;
            let current = read_locked(&paths, lock.as_ref())?;

            let id = Uuid::new_v4().to_string();
            let now = clock.now();
            let granted = record::acquire_lease(&key, current.as_ref(), now, seconds, id)?;

            write_record(&paths, &granted.0)?;
            leases.remember(&key, &granted.1.id);
            Ok(granted.1)
        })
        .await
    }

    async fn release_lease(&self, lease: &Lease) -> Result<(), StoreError> {
        let paths = self.paths(&lease.key)?;
        let lease = lease.clone();
        let leases = self.leases.clone();

        blocking(move || {
            let lock = lock_key(&paths, false)?;
            let current = read_locked(&paths, lock.as_ref())?;

            let released = record::release_lease(current.as_ref(), &lease);
            leases.forget(&lease.key, &lease.id);
            match released? {
                Some(updated) => write_record(&paths, &updated),
                None => Ok(()),
            }
        })
        .await
    }
}

/// Runs blocking file work off the async worker threads.
async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|err| StoreError::Unavailable {
        message: format!("disk task did not finish: {err}"),
    })?
}

/// Locks the key; `None` means the key's directory is absent, so the document is too.
fn lock_key(paths: &KeyPaths, create_dirs: bool) -> Result<Option<FileLock>, StoreError> {
    FileLock::acquire(&paths.lock, create_dirs).map_err(|err| io_error("lock", &paths.lock, &err))
}

/// The document as it is under `lock`; absent when the key's directory is.
fn read_locked(paths: &KeyPaths, lock: Option<&FileLock>) -> Result<Option<Record>, StoreError> {
    match lock {
        Some(_) => read_record(&paths.doc),
        None => Ok(None),
    }
}

fn read_record(path: &Path) -> Result<Option<Record>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(io_error("read", path, &err)),
    };
    decode(&bytes).map(Some).map_err(|reason| StoreError::Unavailable {
        message: format!("corrupt document {}: {reason}", path.display()),
    })
}

fn write_record(paths: &KeyPaths, record: &Record) -> Result<(), StoreError> {
    let bytes = encode(record)?;
    atomic_file::replace(&paths.doc, &paths.temp(), &bytes, None)
        .map_err(|err| io_error("write", &paths.doc, &err))
}

fn encode(record: &Record) -> Result<Vec<u8>, StoreError> {
    let mut bytes = serde_json::to_vec(&record.header).map_err(|err| StoreError::Unavailable {
        message: format!("cannot encode document header: {err}"),
    })?;
    bytes.push(b'\n');
    bytes.extend_from_slice(&record.body);
    Ok(bytes)
}

fn decode(bytes: &[u8]) -> Result<Record, String> {
    let split = bytes.iter().position(|&b| b == b'\n').ok_or("no header line")?;
    let header: Header = serde_json::from_slice(&bytes[..split]).map_err(|e| e.to_string())?;
    Ok(Record { header, body: bytes[split + 1..].to_vec() })
}

/// Every key starting with `prefix`, unordered. Only the directory named by the prefix's
/// complete segments is walked.
fn keys_under(root: &Path, prefix: &str) -> Result<Vec<String>, StoreError> {
    let (dir_key, name_prefix) = match prefix.rsplit_once('/') {
        Some((dir_key, name_prefix)) => (Some(dir_key), name_prefix),
        None => (None, prefix),
    };

    let mut dir = root.to_path_buf();
    let mut key_base = String::new();
    if let Some(dir_key) = dir_key {
        // No valid key can sit below an invalid directory name.
        if key::validate(dir_key).is_err() {
            return Ok(Vec::new());
        }
        dir.extend(dir_key.split('/'));
        key_base = format!("{dir_key}/");
    }

    let mut keys = Vec::new();
    collect_keys(&dir, &key_base, name_prefix, &mut keys)?;
    Ok(keys)
}

/// Adds the keys in `dir` (recursively) whose first segment below `dir` starts with
/// `name_prefix`. Lock and temporary files are skipped: their names never end in `~doc`.
fn collect_keys(
    dir: &Path,
    key_base: &str,
    name_prefix: &str,
    keys: &mut Vec<String>,
) -> Result<(), StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(io_error("list", dir, &err)),
    };

    for entry in entries {
        let entry = entry.map_err(|err| io_error("list", dir, &err))?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if !name.starts_with(name_prefix) {
            continue;
        }

        let Ok(file_type) = entry.file_type() else { continue };
        if file_type.is_dir() {
            collect_keys(&entry.path(), &format!("{key_base}{name}/"), "", keys)?;
        } else if let Some(stem) = name.strip_suffix(DOC_SUFFIX) {
            keys.push(format!("{key_base}{stem}"));
        }
    }
    Ok(())
}

fn io_error(action: &str, path: &Path, err: &io::Error) -> StoreError {
    StoreError::Unavailable { message: format!("cannot {action} {}: {err}", path.display()) }
}
