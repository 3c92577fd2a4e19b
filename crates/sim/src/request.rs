//! The parts of an incoming HTTP request the handlers look at.

use bytes::Bytes;
use http::{HeaderMap, Method};
use serde_json::Value;

use crate::error::ApiError;

/// An incoming request, decoded once.
#[derive(Debug, Clone)]
pub(crate) struct SimRequest {
    pub method: Method,
    /// Path as sent (still percent-encoded), without the query.
    pub path: String,
    /// Percent-decoded, non-empty path segments.
    pub segments: Vec<String>,
    /// Raw query string without `?`.
    pub raw_query: String,
    /// Decoded query pairs in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl SimRequest {
    pub fn new(
        method: Method,
        path: &str,
        raw_query: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> Self {
        let segments =
            path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect::<Vec<_>>();
        let query = raw_query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(&k.replace('+', " ")), percent_decode(&v.replace('+', " ")))
            })
            .collect();
        Self {
            method,
            path: path.to_string(),
            segments,
            raw_query: raw_query.to_string(),
            query,
            headers,
            body,
        }
    }

    /// First query value whose name matches case-insensitively.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        let found = self.query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of an `Authorization: Bearer <token>` header, if non-empty.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }

    /// Host without port, lower-cased.
    pub fn host(&self) -> String {
        let host = self.header("host").unwrap_or_default();
        let host = host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) { h } else { host }
        });
        host.to_ascii_lowercase()
    }

    /// The body parsed as JSON; `None` for an empty body.
    pub fn json(&self) -> Result<Option<Value>, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body).map(Some).map_err(|e| {
            ApiError::invalid_content(format!(
                "The request content was invalid and could not be deserialized: '{e}'."
            ))
        })
    }

    /// The body as a JSON object; error when missing or of another shape.
    pub fn json_object(&self) -> Result<Value, ApiError> {
        match self.json()? {
            Some(value @ Value::Object(_)) => Ok(value),
            Some(_) => Err(ApiError::invalid_content("The request content must be a JSON object.")),
            None => Err(ApiError::invalid_content("The request content was empty.")),
        }
    }

    /// Body as JSON for the request log (non-JSON bodies become a string).
    pub fn body_for_log(&self) -> Option<Value> {
        if self.body.is_empty() {
            return None;
        }
        let parsed = serde_json::from_slice(&self.body);
        Some(parsed.unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into())))
    }
}

/// Decodes `%XX` escapes; malformed escapes are kept as they are.
pub(crate) fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;

    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_segments_query_and_bearer() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer abc".parse().unwrap());
        headers.insert("host", "kv1.vault.azure.net:443".parse().unwrap());

        let req = SimRequest::new(
            Method::GET,
            "/subscriptions/s%2F1//resourceGroups/rg%20a",
            "api-version=2023-07-01&%24filter=location+eq+%27x%27",
            headers,
            Bytes::new(),
        );

        assert_eq!(req.segments, vec!["subscriptions", "s/1", "resourceGroups", "rg a"]);
        assert_eq!(req.query_param("API-VERSION"), Some("2023-07-01"));
        assert_eq!(req.query_param("$filter"), Some("location eq 'x'"));
        assert_eq!(req.bearer(), Some("abc"));
        assert_eq!(req.host(), "kv1.vault.azure.net");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
