//! Records of messages acknowledged without being processed.
//!
//! A message that can never succeed (malformed body, unsupported encoding, unknown
//! deployment) is answered 2xx so the broker does not redeliver it for ever; the record in
//! the state store is what an operator finds afterwards. It holds the reason and a digest of
//! the body, never the body: a deploy message carries secret values.

use polaris_core::ports::{StateStore, StoreError, WriteCondition};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Key prefix of dead-letter records in the state store.
pub const DEAD_LETTER_PREFIX: &str = "deadletters/";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterRecord {
    pub reason: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    pub delivery_count: u32,
    pub body_sha256: String,
    pub body_len: usize,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl DeadLetterRecord {
    pub fn new(reason: &str, description: &str, body: &[u8], at: OffsetDateTime) -> Self {
        let digest = Sha256::digest(body);
        Self {
            reason: reason.to_owned(),
            description: description.to_owned(),
            message_id: None,
            invocation_id: None,
            delivery_count: 1,
            body_sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
            body_len: body.len(),
            at,
        }
    }

    /// One record per message (or per invocation when the id is missing), so a second
    /// delivery of the same message finds the first record instead of adding another.
    pub fn key(&self) -> String {
        let id = self
            .message_id
            .as_deref()
            .or(self.invocation_id.as_deref())
            .unwrap_or(self.body_sha256.as_str());
        let safe: String = id
            .chars()
            .take(180)
            .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
            .collect();
        format!("{DEAD_LETTER_PREFIX}{safe}.json")
    }

    /// Writes the record; one that already exists counts as written.
    pub async fn store(&self, store: &dyn StateStore) -> Result<String, StoreError> {
        let key = self.key();
        let body = serde_json::to_vec(self).expect("dead-letter records serialize");
        match store.put(&key, body, WriteCondition::CreateOnly).await {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(key),
            Err(e) => Err(e),
        }
    }
}
