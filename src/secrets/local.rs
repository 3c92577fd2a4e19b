//! Secrets on local disk: one JSON file per deployment, readable by the owner only.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use polaris_core::ports::{SecretError, SecretStore};
use tracing::debug;

use super::{missing, validate_deployment};
use crate::store::atomic_file;
use crate::store::file_lock::FileLock;

/// Owner read/write only: other local users must not read deployment secrets.
const FILE_MODE: u32 = 0o600;

/// Owner-only directory, so file names (deployment ids) are not listable either.
const DIR_MODE: u32 = 0o700;

/// One lock for the whole directory: secret writes are rare, and a single lock file avoids
/// leaving a lock file behind for every deployment ever torn down. Deployment ids cannot
/// start with `.`, so it never collides with a secrets file.
const LOCK_FILE: &str = ".lock";

/// Secret name -> value for one deployment, as stored in `<root>/<deployment>.json`.
type Secrets = BTreeMap<String, String>;

/// Keeps secrets in `<root>/<deployment>.json` (mode 0600), in a directory separate from
/// the state store's, so copying or inspecting state never exposes them.
#[derive(Clone)]
pub struct LocalSecretStore {
    root: Arc<Path>,
}

impl LocalSecretStore {
    /// Opens (creating if needed) the secrets directory and restricts it to the owner.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, SecretError> {
        let root: PathBuf = root.into();
        fs::create_dir_all(&root).map_err(|err| io_error("create", &root, &err))?;
        restrict_dir(&root).map_err(|err| io_error("restrict", &root, &err))?;
        Ok(Self { root: root.into() })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file holding `deployment`'s secrets.
    pub fn file_of(&self, deployment: &str) -> PathBuf {
        self.root.join(format!("{deployment}.json"))
    }
}

impl fmt::Debug for LocalSecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSecretStore").field("root", &self.root).finish()
    }
}

#[async_trait]
impl SecretStore for LocalSecretStore {
    async fn put(&self, deployment: &str, key: &str, value: &str) -> Result<(), SecretError> {
        validate_deployment(deployment)?;
        let root = self.root.clone();
        let file = self.file_of(deployment);
        let (name, value) = (key.to_owned(), value.to_owned());

        blocking(move || {
            let _lock = lock_dir(&root)?;
            let mut secrets = read_secrets(&file)?.unwrap_or_default();

            secrets.insert(name, value);

            write_secrets(&root, &file, &secrets)
        })
        .await?;
        debug!(deployment, key, "stored secret");
        Ok(())
    }

    async fn get(&self, deployment: &str, key: &str) -> Result<String, SecretError> {
        validate_deployment(deployment)?;
        let file = self.file_of(deployment);

        let secrets = blocking(move || read_secrets(&file)).await?;

        let value = secrets.and_then(|mut secrets| secrets.remove(key));
        value.ok_or_else(|| missing(deployment, key))
    }

    async fn delete_all(&self, deployment: &str) -> Result<(), SecretError> {
        validate_deployment(deployment)?;
        let root = self.root.clone();
        let file = self.file_of(deployment);

        blocking(move || {
            let _lock = lock_dir(&root)?;
            match fs::remove_file(&file) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(err) => return Err(io_error("delete", &file, &err)),
            }
            atomic_file::sync_dir(&root).map_err(|err| io_error("sync", &root, &err))
        })
        .await?;
        debug!(deployment, "deleted all secrets");
        Ok(())
    }
}

async fn blocking<T, F>(work: F) -> Result<T, SecretError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, SecretError> + Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|err| SecretError::Unavailable {
        message: format!("secret file task did not finish: {err}"),
    })?
}

fn lock_dir(root: &Path) -> Result<FileLock, SecretError> {
    let path = root.join(LOCK_FILE);
    let lock = FileLock::acquire(&path, true).map_err(|err| io_error("lock", &path, &err))?;
    lock.ok_or_else(|| SecretError::Unavailable { message: "secrets directory vanished".into() })
}

fn read_secrets(file: &Path) -> Result<Option<Secrets>, SecretError> {
    let bytes = match fs::read(file) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(io_error("read", file, &err)),
    };

    // Only the position goes into the error: serde's message may quote file content.
    serde_json::from_slice(&bytes).map(Some).map_err(|err| SecretError::Unavailable {
        message: format!(
            "corrupt secrets file {} at line {} column {}",
            file.display(),
            err.line(),
            err.column()
        ),
    })
}

fn write_secrets(root: &Path, file: &Path, secrets: &Secrets) -> Result<(), SecretError> {
    let bytes = serde_json::to_vec(secrets)
        .map_err(|_| SecretError::Unavailable { message: "cannot encode secrets".to_owned() })?;

    let temp = root.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    atomic_file::replace(file, &temp, &bytes, Some(FILE_MODE))
        .map_err(|err| io_error("write", file, &err))
}

#[cfg(unix)]
fn restrict_dir(root: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;

    fs::set_permissions(root, fs::Permissions::from_mode(DIR_MODE))
}

#[cfg(not(unix))]
fn restrict_dir(_root: &Path) -> io::Result<()> {
    Ok(())
}

fn io_error(action: &str, path: &Path, err: &io::Error) -> SecretError {
    SecretError::Unavailable { message: format!("cannot {action} {}: {err}", path.display()) }
}
