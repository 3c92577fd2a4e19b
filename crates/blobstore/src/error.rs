//! Errors of our own (construction), and the translation of Blob service answers into the
//! core's `StoreError`, which the saga branches on.

use azure_core::error::ErrorKind;
use polaris_core::ports::StoreError;

/// Why a [`crate::BlobStateStore`] could not be built. Raised at start-up, so each variant
/// names the offending input.
#[derive(Debug, thiserror::Error)]
pub enum BlobStoreError {
    #[error("account URL `{url}` must be an absolute https URL that can hold a container path")]
    AccountUrl { url: String },
    #[error("container name `{name}` must be 3-63 characters of a-z, 0-9 and single '-'")]
    ContainerName { name: String },
    #[error("cannot build the Blob container client for `{url}`")]
    Client {
        url: String,
        #[source]
        source: azure_core::Error,
    },
}

/// The parts of a failed call that decide how we map it: HTTP status and the service's
/// `x-ms-error-code`, when the failure was an HTTP answer at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: Option<u16>,
    pub code: Option<String>,
}

impl Answer {
    pub fn of(err: &azure_core::Error) -> Self {
        match err.kind() {
            ErrorKind::HttpResponse { status, error_code, .. } => {
                Self { status: Some(u16::from(*status)), code: error_code.clone() }
            }
            _ => Self { status: None, code: None },
        }
    }

    pub fn is(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    pub fn code_is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }
}

/// Builds `Unavailable` with the operation, the key and what the service said, because this
/// message is all an operator sees when a saga step fails on storage.
pub(crate) fn unavailable(op: &str, key: &str, err: &azure_core::Error) -> StoreError {
    let answer = Answer::of(err);
    let status = answer.status.map_or_else(|| "no HTTP answer".to_owned(), |s| s.to_string());
    let code = answer.code.unwrap_or_else(|| "-".to_owned());
    tracing::warn!(op, key, status, code, error = %err, "blob store call failed");
    StoreError::Unavailable {
        message: format!("{op} `{key}`: status {status}, code {code}: {err}"),
    }
}

/// Same as [`unavailable`] for failures that are ours, not the service's.
pub(crate) fn unavailable_local(op: &str, key: &str, why: &str) -> StoreError {
    tracing::warn!(op, key, why, "blob store call refused locally");
    StoreError::Unavailable { message: format!("{op} `{key}`: {why}") }
}
