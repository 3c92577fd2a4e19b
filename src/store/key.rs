//! Which keys the embedded stores accept, and where a key lives on disk.
//!
//! Both stores apply the same rules so that code which works against [`MemoryStore`] cannot
//! fail on [`LocalDiskStore`] just because of a key's spelling.
//!
//! [`MemoryStore`]: super::MemoryStore
//! [`LocalDiskStore`]: super::LocalDiskStore

use std::path::{Path, PathBuf};

use polaris_core::ports::StoreError;

/// Blob Storage's limit on a blob name; keeping to it keeps keys portable.
pub const MAX_KEY_LEN: usize = 1024;

/// Leaves room below the usual 255-byte file-name limit for the suffixes added on disk.
pub const MAX_SEGMENT_LEN: usize = 200;

/// Suffix of the file that holds a document. `~` is not allowed in keys, so a document
/// `a` (`a~doc`) and the directory holding `a/b` (`a/`) never collide.
pub const DOC_SUFFIX: &str = "~doc";

/// Suffix of the per-key lock file taken around compare-and-swap.
pub const LOCK_SUFFIX: &str = "~lock";

/// Infix of temporary files written before the atomic rename.
pub const TMP_INFIX: &str = "~tmp-";

/// Checks `key`: `/`-separated segments of ASCII letters, digits and `-_.:=@+,`, no empty
/// segment, none starting with `.` (so `..` cannot climb out of the root).
pub fn validate(key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(invalid(key, "must be 1-1024 characters"));
    }

    for segment in key.split('/') {
        validate_segment(segment).map_err(|reason| invalid(key, reason))?;
    }
    Ok(())
}

/// Checks one path segment (also used for deployment ids in the secret store).
pub fn validate_segment(segment: &str) -> Result<(), &'static str> {
    if segment.is_empty() {
        return Err("has an empty segment");
    }
    if segment.len() > MAX_SEGMENT_LEN {
        return Err("has a segment longer than 200 characters");
    }
    if segment.starts_with('.') {
        return Err("has a segment starting with '.'");
    }
    if !segment.bytes().all(is_key_byte) {
        return Err("may only hold ASCII letters, digits and -_.:=@+,");
    }
    Ok(())
}

fn is_key_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-_.:=@+,".contains(&byte)
}

/// Unusable keys are programming errors; the port has no variant for them, so they are
/// reported as `Unavailable` with a message naming the rule.
fn invalid(key: &str, reason: &str) -> StoreError {
    StoreError::Unavailable { message: format!("invalid key `{key}`: {reason}") }
}

/// The files that belong to one (validated) key.
#[derive(Clone, Debug)]
pub struct KeyPaths {
    pub dir: PathBuf,
    pub doc: PathBuf,
    pub lock: PathBuf,
}

impl KeyPaths {
    pub fn new(root: &Path, key: &str) -> Self {
        let (parent, name) = match key.rsplit_once('/') {
            Some((parent, name)) => (Some(parent), name),
            None => (None, key),
        };

        let mut dir = root.to_path_buf();
        for segment in parent.into_iter().flat_map(|p| p.split('/')) {
            dir.push(segment);
        }

        let doc = dir.join(format!("{name}{DOC_SUFFIX}"));
        let lock = dir.join(format!("{name}{LOCK_SUFFIX}"));
        Self { dir, doc, lock }
    }

    /// A fresh temporary file next to the document, so the rename stays on one filesystem.
    pub fn temp(&self) -> PathBuf {
        let name = self.doc.file_name().and_then(|n| n.to_str()).unwrap_or("doc");
        self.dir.join(format!("{name}{TMP_INFIX}{}", uuid::Uuid::new_v4().simple()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_nested_keys_and_rejects_escapes() {
        assert!(validate("deployments/polaris-ab12/state").is_ok());
        assert!(validate("history/2025-01-01T00:00:00Z").is_ok());
        assert!(validate("").is_err());
        assert!(validate("a//b").is_err());
        assert!(validate("/a").is_err());
        assert!(validate("a/../b").is_err());
        assert!(validate("a~doc").is_err());
        assert!(validate("a b").is_err());
        assert!(validate(&"x".repeat(201)).is_err());
    }

    #[test]
    fn document_and_directory_of_a_prefix_do_not_collide() {
        let root = Path::new("/r");

        let parent = KeyPaths::new(root, "a");
        let child = KeyPaths::new(root, "a/b");

        assert_eq!(parent.doc, Path::new("/r/a~doc"));
        assert_eq!(child.dir, Path::new("/r/a"));
        assert_eq!(child.doc, Path::new("/r/a/b~doc"));
        assert_eq!(child.lock, Path::new("/r/a/b~lock"));
    }
}
