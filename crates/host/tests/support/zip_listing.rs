//! Lists a zip archive's entries and Unix modes from its central directory, so the package
//! test needs no unzip tool and sees exactly what the Functions platform will see.

use std::path::Path;

/// One file in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    pub name: String,
    /// Unix permission bits from the external attributes (0 if the zip was made elsewhere).
    pub mode: u32,
}

const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
const CENTRAL_DIRECTORY_ENTRY: u32 = 0x0201_4b50;

pub fn list(path: &Path) -> Vec<ZipEntry> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let end = (0..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&at| u32_at(&bytes, at) == END_OF_CENTRAL_DIRECTORY)
        .expect("zip end-of-central-directory record");

    let count = usize::from(u16_at(&bytes, end + 10));
    let mut at = u32_at(&bytes, end + 16) as usize;
    let mut entries = Vec::with_capacity(count);
    for _ in 0..count {
        assert_eq!(u32_at(&bytes, at), CENTRAL_DIRECTORY_ENTRY, "central directory entry");
        let name_len = usize::from(u16_at(&bytes, at + 28));
        let extra_len = usize::from(u16_at(&bytes, at + 30));
        let comment_len = usize::from(u16_at(&bytes, at + 32));
        let external = u32_at(&bytes, at + 38);
        let name = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).unwrap();

        entries.push(ZipEntry { name, mode: external >> 16 });
        at += 46 + name_len + extra_len + comment_len;
    }
    entries
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}
