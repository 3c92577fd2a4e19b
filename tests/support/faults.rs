//! Fault rules aimed at one resource of a plan.

use polaris_sim::{Fault, FaultRule, Occurrence, PathPattern, RequestMatcher};

/// Matches exactly `id` (not its children), case-insensitively as ARM does.
pub fn exact(id: &str) -> PathPattern {
    PathPattern::Regex(format!("(?i)^{}$", id.replace('.', "\\.")))
}

/// `method` on exactly `id` fails with `fault`, every time.
pub fn on(method: &str, id: &str, fault: Fault) -> FaultRule {
    let matcher = RequestMatcher {
        method: Some(method.to_owned()),
        path: exact(id),
        occurrence: Occurrence::Every,
    };
    FaultRule { matcher, fault, times: None }
}

/// An ARM error answer instead of doing the work.
pub fn status(status: u16, code: &str) -> Fault {
    Fault::Status {
        status,
        code: code.to_owned(),
        message: format!("injected by the test: {code}"),
        retry_after: None,
    }
}

/// 429 `TooManyRequests` with `Retry-After`.
pub fn throttled(retry_after: u64) -> Fault {
    Fault::Status {
        status: 429,
        code: "TooManyRequests".to_owned(),
        message: "The request is being throttled.".to_owned(),
        retry_after: Some(retry_after),
    }
}

/// The operation started by the request ends `Failed`.
pub fn lro_fails(code: &str, message: &str) -> Fault {
    Fault::LroFails { code: code.to_owned(), message: message.to_owned() }
}
