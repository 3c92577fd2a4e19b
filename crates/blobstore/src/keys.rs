//! Checks on container names and keys, done locally so a bad name fails with a clear message
//! instead of an opaque 400 (or, worse, a request against another path).

use polaris_core::ports::StoreError;
use url::Url;

use crate::error::{BlobStoreError, unavailable_local};

/// Longest blob name the service accepts.
const MAX_KEY_LEN: usize = 1024;

/// Appends the container to the account URL. A trailing slash on the account URL would give
/// `//container`, which Azurite answers with 400 and an empty body, so it is dropped first.
pub(crate) fn container_url(account_url: &Url, container: &str) -> Result<Url, BlobStoreError> {
    check_container(container)?;

    let bad_url = || BlobStoreError::AccountUrl { url: account_url.to_string() };
    if account_url.scheme() != "https" || account_url.query().is_some() {
        return Err(bad_url());
    }

    let mut url = account_url.clone();
    url.path_segments_mut().map_err(|()| bad_url())?.pop_if_empty().push(container);
    Ok(url)
}

/// The service's container naming rule: 3-63 chars, lower-case letters, digits and dashes,
/// starting and ending with a letter or digit, no double dash.
fn check_container(name: &str) -> Result<(), BlobStoreError> {
    let ok_len = (3..=63).contains(&name.len());
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_shape = !name.starts_with('-') && !name.ends_with('-') && !name.contains("--");
    if ok_len && ok_chars && ok_shape {
        Ok(())
    } else {
        Err(BlobStoreError::ContainerName { name: name.to_owned() })
    }
}

/// Refuses keys that the URL layer would rewrite (empty, `//`, `.` or `..` segments, a
/// leading or trailing `/`), since the blob written would not be the one named.
pub(crate) fn check_key(op: &str, key: &str) -> Result<(), StoreError> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(unavailable_local(op, key, "a key must be 1-1024 bytes"));
    }

    let bad_segment = key.split('/').any(|s| s.is_empty() || s == "." || s == "..");
    if bad_segment || key.chars().any(char::is_control) {
        return Err(unavailable_local(op, key, "a key must be `/`-separated non-empty names"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_url_drops_the_trailing_slash_of_the_account_url() {
        let account = Url::parse("https://127.0.0.1:10000/devstoreaccount1/").unwrap();
        let url = container_url(&account, "sagas").unwrap();
        assert_eq!(url.as_str(), "https://127.0.0.1:10000/devstoreaccount1/sagas");

        let account = Url::parse("https://acct.blob.core.windows.net").unwrap();
        let url = container_url(&account, "sagas").unwrap();
        assert_eq!(url.as_str(), "https://acct.blob.core.windows.net/sagas");
    }

    #[test]
    fn container_url_refuses_plain_http_and_bad_names() {
        let http = Url::parse("http://127.0.0.1:10000/devstoreaccount1").unwrap();
        assert!(matches!(container_url(&http, "sagas"), Err(BlobStoreError::AccountUrl { .. })));

        let account = Url::parse("https://acct.blob.core.windows.net").unwrap();
        for name in ["ab", "Sagas", "-sagas", "sa--gas", "sagas-", "sa_gas"] {
            let err = container_url(&account, name).unwrap_err();
            assert!(matches!(err, BlobStoreError::ContainerName { .. }), "{name}");
        }
    }

    #[test]
    fn keys_that_the_url_layer_would_rewrite_are_refused() {
        for key in ["", "/a", "a/", "a//b", "a/./b", "a/../b", "a\nb"] {
            assert!(check_key("get", key).is_err(), "{key:?}");
        }
        for key in ["a", "deployments/dep-1/state.json", "a b/c+d"] {
            assert!(check_key("get", key).is_ok(), "{key:?}");
        }
    }
}
