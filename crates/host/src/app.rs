//! The functions this app declares in `functions/<Name>/function.json`.
//!
//! The folder name is the function name and the path the host POSTs envelopes to, so the
//! warp routes and the function folders must agree; the tests in `tests/function_app.rs`
//! keep this list and the folders in step.

/// What triggers a function, which decides how its invocations arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    ServiceBus,
    /// HTTP-only (one `httpTrigger` in, one `http` out) with forwarding on: the handler
    /// receives the caller's original request at `/api/...`, not an envelope.
    Http,
    Timer,
    EventGrid,
}

/// One function of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionDef {
    pub name: &'static str,
    pub trigger: TriggerKind,
    /// The trigger binding's `name`, i.e. the key under `Data` in the envelope.
    pub binding: &'static str,
}

impl FunctionDef {
    /// The path the host POSTs the envelope to, or `None` for the forwarded HTTP function,
    /// whose requests keep their public `/api/...` path and method.
    pub fn envelope_path(&self) -> Option<String> {
        match self.trigger {
            TriggerKind::Http => None,
            _ => Some(format!("/{}", self.name)),
        }
    }
}

/// Every function, in the order of `functions/`.
pub const FUNCTIONS: &[FunctionDef] = &[
    FunctionDef { name: "SagaWorker", trigger: TriggerKind::ServiceBus, binding: "message" },
    FunctionDef { name: "DeploymentsApi", trigger: TriggerKind::Http, binding: "req" },
    FunctionDef { name: "RotateKeys", trigger: TriggerKind::Timer, binding: "timer" },
    FunctionDef { name: "TeardownOnEvent", trigger: TriggerKind::EventGrid, binding: "event" },
    FunctionDef { name: "RecoverySweeper", trigger: TriggerKind::Timer, binding: "timer" },
];

/// The function names alone, for route-coverage assertions in the server's tests.
pub const FUNCTION_NAMES: &[&str] =
    &["SagaWorker", "DeploymentsApi", "RotateKeys", "TeardownOnEvent", "RecoverySweeper"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_definitions() {
        let names: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
        assert_eq!(names, FUNCTION_NAMES);
    }

    #[test]
    fn only_the_http_function_skips_the_envelope() {
        let paths: Vec<_> = FUNCTIONS.iter().map(FunctionDef::envelope_path).collect();
        assert_eq!(paths[0].as_deref(), Some("/SagaWorker"));
        assert_eq!(paths[1], None);
    }
}
