//! Errors: [`SimError`] for callers of the crate, [`ApiError`] for error responses that the
//! simulated services send back over HTTP.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use http::StatusCode;
use serde_json::json;

use crate::reply::Reply;

/// Failures of the simulator itself (not the simulated Azure errors).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configured bind address is not loopback.
    #[error("refusing to bind {0}: the simulator only listens on loopback")]
    NotLoopback(IpAddr),
    /// Binding a listener failed.
    #[error("failed to bind {addr}")]
    Bind {
        /// Address that could not be bound.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Generating the CA or leaf certificate failed.
    #[error("failed to generate the TLS certificates")]
    Certificate(#[source] rcgen::Error),
    /// rustls refused the generated certificate or key.
    #[error("failed to build the TLS configuration")]
    Tls(#[source] rustls::Error),
    /// Writing a file (e.g. the CA certificate) failed.
    #[error("failed to write {path}")]
    Io {
        /// File that could not be written.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A fault plan could not be parsed.
    #[error("invalid fault plan")]
    FaultPlan(#[source] serde_json::Error),
    /// A fault rule's regex does not compile.
    #[error("invalid path pattern {pattern:?}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// Cause.
        #[source]
        source: regex::Error,
    },
    /// A seeding request was refused by the simulated service.
    #[error("seeding {method} {path} failed with {status}: {body}")]
    Seed {
        /// Method of the seeding request.
        method: String,
        /// Path of the seeding request.
        path: String,
        /// Status the sim answered.
        status: u16,
        /// Body the sim answered.
        body: String,
    },
}

/// Which wire shape an error body takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plane {
    /// ARM: `{"error":{"code","message"}}`.
    Arm,
    /// Key Vault data plane: `{"error":{"code","message"}}` (no `innererror` is sent).
    KeyVault,
}

/// An error response of the simulated Azure.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub plane: Plane,
    pub headers: Vec<(String, String)>,
}

impl ApiError {
    pub fn arm(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code: code.to_string(),
            message: message.into(),
            plane: Plane::Arm,
            headers: Vec::new(),
        }
    }

    pub fn kv(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self { plane: Plane::KeyVault, ..Self::arm(status, code, message) }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn in_plane(mut self, plane: Plane) -> Self {
        self.plane = plane;
        self
    }

    /// 400 `InvalidRequestContent`.
    pub fn invalid_content(message: impl Into<String>) -> Self {
        Self::arm(400, "InvalidRequestContent", message)
    }

    /// 404 `ResourceNotFound` in ARM's wording.
    pub fn resource_not_found(rtype: &str, name: &str, group: &str) -> Self {
        let message = format!(
            "The Resource '{rtype}/{name}' under resource group '{group}' was not found. \
             For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        );
        Self::arm(404, "ResourceNotFound", message)
    }

    /// 404 `ResourceGroupNotFound`.
    pub fn group_not_found(group: &str) -> Self {
        Self::arm(
            404,
            "ResourceGroupNotFound",
            format!("Resource group '{group}' could not be found."),
        )
    }

    pub fn into_reply(self) -> Reply {
        let error = json!({ "code": self.code, "message": self.message });
        let mut reply = Reply::json(self.status, json!({ "error": error }));
        for (name, value) in self.headers {
            reply = reply.header(&name, value);
        }
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_error_carries_code_message_and_headers() {
        let reply = ApiError::kv(401, "Unauthorized", "no token")
            .with_header("WWW-Authenticate", "Bearer")
            .into_reply();

        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let body = reply.body.unwrap();
        assert_eq!(body["error"]["code"], "Unauthorized");
        assert!(body["error"].get("innererror").is_none());
        assert_eq!(reply.headers, vec![("WWW-Authenticate".to_string(), "Bearer".to_string())]);
    }
}
