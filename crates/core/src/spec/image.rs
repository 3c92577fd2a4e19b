//! Container image references: `[registry/]repository[:tag][@sha256:<64 hex>]`.
//!
//! Checked before any call because a malformed or upper-case reference does not fail fast in
//! ACI: the group sits in `Waiting` until the deployment times out (field report B12).

use std::fmt;

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (`myregistry.azurecr.io`, `localhost:5000`); `None` for Docker Hub
    /// short names such as `nginx` or `library/nginx`.
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    /// Lower-case hex of the sha256 digest.
    pub digest: Option<String>,
}

/// Why a reference is not usable; the text is shown to the user with the field name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("image reference is empty")]
    Empty,
    #[error("repository path `{0}` has upper-case letters; registries reject it")]
    UpperCase(String),
    #[error("repository path `{0}` is malformed (use lower-case letters, digits, '.', '_', '-')")]
    BadRepository(String),
    #[error(
        "tag `{0}` is malformed (1-128 of letters, digits, '_', '.', '-'; not leading '.'/'-')"
    )]
    BadTag(String),
    #[error("digest `{0}` is malformed (expected `sha256:` and 64 lower-case hex digits)")]
    BadDigest(String),
    #[error("registry `{0}` is not a valid host name")]
    BadRegistry(String),
}

impl ImageRef {
    pub fn parse(input: &str) -> Result<Self, ImageError> {
        if input.trim().is_empty() {
            return Err(ImageError::Empty);
        }

        let (name_and_tag, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(parse_digest(digest)?)),
            None => (input, None),
        };

        let (registry, path) = split_registry(name_and_tag);
        if let Some(registry) = &registry {
            check_host(registry)?;
        }

        // A ':' after the last '/' starts the tag; earlier ones belong to a registry port.
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) => (repo, Some(tag)),
            None => (path, None),
        };
        if let Some(tag) = tag {
            check_tag(tag)?;
        }
        check_repository(repository)?;

        Ok(Self {
            registry,
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// True when the reference names an immutable image (B07).
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@sha256:{digest}")?;
        }
        Ok(())
    }
}

/// The first path component is a registry when it looks like a host: it has a '.' or a ':'
/// (port), or is `localhost`. This is the rule Docker uses.
pub fn split_registry(reference: &str) -> (Option<String>, &str) {
    match reference.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first.to_owned()), rest)
        }
        _ => (None, reference),
    }
}

/// Parses `sha256:<64 lower-case hex>` and returns the hex part.
pub fn parse_digest(digest: &str) -> Result<String, ImageError> {
    let hex = digest.strip_prefix("sha256:").filter(|h| is_lower_hex(h, 64));
    hex.map(str::to_owned).ok_or_else(|| ImageError::BadDigest(digest.to_owned()))
}

pub(crate) fn is_lower_hex(value: &str, len: usize) -> bool {
    value.len() == len && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A host name with an optional port: labels of letters, digits and '-'.
pub(crate) fn check_host(host: &str) -> Result<(), ImageError> {
    let bad = || ImageError::BadRegistry(host.to_owned());
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if let Some(port) = port {
        port.parse::<u16>().map_err(|_| bad())?;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(bad());
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), ImageError> {
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && !tag.starts_with(['.', '-']);
    if ok { Ok(()) } else { Err(ImageError::BadTag(tag.to_owned())) }
}

/// Path components of lower-case alphanumerics joined by single separators (`.`, `_`, `__`,
/// or runs of `-`), as in the OCI distribution spec.
fn check_repository(repository: &str) -> Result<(), ImageError> {
    if repository.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ImageError::UpperCase(repository.to_owned()));
    }
    if !repository.split('/').all(component_ok) {
        return Err(ImageError::BadRepository(repository.to_owned()));
    }
    Ok(())
}

fn component_ok(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(&bytes[0]) || !alnum(&bytes[bytes.len() - 1]) {
        return false;
    }

    // Walk runs of separators between alphanumerics and check each run.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(&bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(&bytes[i]) {
            i += 1;
        }
        let run = &component[start..i];
        let ok = run == "." || run == "_" || run == "__" || run.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_registry_tag_and_digest() {
        let image = ImageRef::parse(&format!("myreg.azurecr.io/team/app:1.2@{DIGEST}")).unwrap();
        assert_eq!(image.registry.as_deref(), Some("myreg.azurecr.io"));
        assert_eq!(image.repository, "team/app");
        assert_eq!(image.tag.as_deref(), Some("1.2"));
        assert!(image.is_pinned());
        assert_eq!(image.to_string(), format!("myreg.azurecr.io/team/app:1.2@{DIGEST}"));
    }

    #[test]
    fn docker_hub_short_names_have_no_registry() {
        let image = ImageRef::parse("nginx:1.27").unwrap();
        assert_eq!(image.registry, None);
        assert_eq!(image.repository, "nginx");
        let ported = ImageRef::parse("localhost:5000/app").unwrap();
        assert_eq!(ported.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(ported.tag, None);
    }

    #[test]
    fn rejects_upper_case_repository_b12() {
        let err = ImageRef::parse(&format!("ghcr.io/Owner/img@{DIGEST}")).unwrap_err();
        assert_eq!(err, ImageError::UpperCase("Owner/img".into()));
    }

    #[test]
    fn rejects_malformed_parts() {
        assert!(matches!(ImageRef::parse("reg.io/app@sha256:abc"), Err(ImageError::BadDigest(_))));
        assert!(matches!(ImageRef::parse("reg.io/app:-bad"), Err(ImageError::BadTag(_))));
        assert!(matches!(ImageRef::parse("reg.io/a..b"), Err(ImageError::BadRepository(_))));
        assert!(matches!(ImageRef::parse("reg.io//app"), Err(ImageError::BadRepository(_))));
        assert!(matches!(ImageRef::parse("bad_host.io/app"), Err(ImageError::BadRegistry(_))));
        assert_eq!(ImageRef::parse(" "), Err(ImageError::Empty));
        assert!(ImageRef::parse("reg.io/my__app-x.y/z").is_ok());
    }
}
