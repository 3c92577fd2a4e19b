//! Readers over the simulator's request log.

use std::collections::BTreeMap;

use polaris_sim::LoggedRequest;

/// Requests with `method` on exactly `id` (ARM ids compare case-insensitively).
pub fn on<'a>(log: &'a [LoggedRequest], method: &str, id: &str) -> Vec<&'a LoggedRequest> {
    log.iter().filter(|r| r.method == method && r.path.eq_ignore_ascii_case(id)).collect()
}

/// Requests with `method` whose path contains `needle` (case-insensitive).
pub fn containing<'a>(
    log: &'a [LoggedRequest],
    method: &str,
    needle: &str,
) -> Vec<&'a LoggedRequest> {
    let needle = needle.to_ascii_lowercase();
    log.iter()
        .filter(|r| r.method == method && r.path.to_ascii_lowercase().contains(&needle))
        .collect()
}

/// Successful (2xx) PUTs per lower-cased resource id.
pub fn successful_puts(log: &[LoggedRequest]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in log.iter().filter(|r| r.method == "PUT" && (200..300).contains(&r.status)) {
        *counts.entry(r.path.to_ascii_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// PUTs the simulator answered 201 Created, per lower-cased resource id.
pub fn creating_puts(log: &[LoggedRequest]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for r in log.iter().filter(|r| r.method == "PUT" && r.status == 201) {
        *counts.entry(r.path.to_ascii_lowercase()).or_insert(0) += 1;
    }
    counts
}

/// Seconds of simulated time between two logged requests.
pub fn gap_secs(earlier: &LoggedRequest, later: &LoggedRequest) -> i64 {
    (later.time - earlier.time).whole_seconds()
}
