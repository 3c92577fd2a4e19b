//! The timer trigger payload.

use serde_json::Value;
use time::OffsetDateTime;

use crate::decode::{decode_layers, metadata_text};
use crate::envelope::InvocationRequest;
use crate::error::HostError;
use crate::timestamp::parse_timestamp;

/// `Data.<binding>` of a `timerTrigger` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimerTrigger {
    /// The invocation runs later than scheduled (after a restart or a long previous run).
    pub is_past_due: bool,
    pub adjust_for_dst: bool,
    /// `None` when the schedule monitor has no record yet; a live host 4.24 sent `null`.
    pub schedule_status: Option<ScheduleStatus>,
}

/// The schedule monitor's view of the last and next occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleStatus {
    pub last: Option<OffsetDateTime>,
    pub next: Option<OffsetDateTime>,
    pub last_updated: Option<OffsetDateTime>,
}

impl TimerTrigger {
    pub fn from_invocation(req: &InvocationRequest, binding: &str) -> Result<Self, HostError> {
        Self::from_value(req.binding(binding)?).ok_or_else(|| HostError::InvalidBinding {
            binding: binding.to_owned(),
            reason: "the timer value is not a JSON object".to_owned(),
        })
    }

    /// Reads the timer object itself (`{"Schedule":..,"ScheduleStatus":..,"IsPastDue":..}`).
    pub fn from_value(value: &Value) -> Option<Self> {
        let Value::Object(timer) = decode_layers(value.clone()) else {
            return None;
        };

        let flag = |value: Option<&Value>| {
            value.and_then(metadata_text).is_some_and(|text| text.eq_ignore_ascii_case("true"))
        };
        let schedule_status = match timer.get("ScheduleStatus").map(|v| decode_layers(v.clone())) {
            Some(Value::Object(status)) => {
                let time = |key: &str| status.get(key).and_then(metadata_text);
                Some(ScheduleStatus {
                    last: time("Last").as_deref().and_then(parse_timestamp),
                    next: time("Next").as_deref().and_then(parse_timestamp),
                    last_updated: time("LastUpdated").as_deref().and_then(parse_timestamp),
                })
            }
            _ => None,
        };

        Some(Self {
            is_past_due: flag(timer.get("IsPastDue")),
            adjust_for_dst: flag(timer.get("Schedule").and_then(|s| s.get("AdjustForDST"))),
            schedule_status,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn past_due_flag_is_read() {
        let timer = TimerTrigger::from_value(&json!({"IsPastDue": true})).expect("parses");

        assert!(timer.is_past_due);
        assert_eq!(timer.schedule_status, None);
    }

    #[test]
    fn a_non_object_is_an_invalid_binding() {
        let req = InvocationRequest::from_value(json!({"Data": {"timer": 5}})).unwrap();
        let error = TimerTrigger::from_invocation(&req, "timer").expect_err("rejects");

        assert_eq!(error.label(), "invalid_binding");
    }
}
