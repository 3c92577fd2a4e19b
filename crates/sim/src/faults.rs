//! Fault injection: a serde-loadable plan of rules, and the live, consumable copy of it.
//!
//! A rule matches requests by method and path and fires on every match or on the n-th
//! one, at most `times` times. The JSON format is documented in the crate README.

use std::sync::{Arc, Mutex};

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// A list of fault rules, checked in order; the first rule that fires wins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// The rules.
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// Parses the JSON form (see the README).
    pub fn from_json(json: &str) -> Result<Self, SimError> {
        serde_json::from_str(json).map_err(SimError::FaultPlan)
    }

    /// Adds a rule.
    pub fn with(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }
}

/// One rule: which requests, what goes wrong, how many times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Which requests the rule looks at.
    #[serde(rename = "match")]
    pub matcher: RequestMatcher,
    /// What happens when it fires.
    pub fault: Fault,
    /// How many times it may fire; `None` is unlimited.
    #[serde(default)]
    pub times: Option<u32>,
}

impl FaultRule {
    /// A rule firing on every request whose path contains `path` (any method).
    pub fn on(path: &str, fault: Fault) -> Self {
        let matcher = RequestMatcher {
            method: None,
            path: PathPattern::Contains(path.to_string()),
            occurrence: Occurrence::Every,
        };
        Self { matcher, fault, times: None }
    }

    /// Restricts the rule to one HTTP method.
    pub fn method(mut self, method: &str) -> Self {
        self.matcher.method = Some(method.to_string());
        self
    }

    /// Lets the rule fire at most `times` times.
    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    /// Fires only on the n-th matching request (1-based).
    pub fn nth(mut self, n: u32) -> Self {
        self.matcher.occurrence = Occurrence::Nth(n);
        self
    }
}

/// Request selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestMatcher {
    /// HTTP method, case-insensitive; `None` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Pattern applied to the request path (no query string).
    ///
    /// For the simulated proxy listeners the path is the container group's ARM id
    /// followed by the HTTP path, e.g. `.../containerGroups/g1/polaris-container/health`.
    pub path: PathPattern,
    /// Which of the matching requests trigger the fault.
    #[serde(default)]
    pub occurrence: Occurrence,
}

/// How a path is matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathPattern {
    /// Case-insensitive substring.
    Contains(String),
    /// Regular expression (`regex` crate syntax; add `(?i)` for case-insensitivity).
    Regex(String),
}

/// Which matching requests fire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Occurrence {
    /// Every matching request.
    #[default]
    Every,
    /// Only the n-th matching request (1-based).
    Nth(u32),
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this status and an error body instead of doing the work.
    Status {
        /// HTTP status, e.g. 429.
        status: u16,
        /// Error code, e.g. `TooManyRequests`.
        code: String,
        /// Error message.
        message: String,
        /// `Retry-After` seconds.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Accept the request; the operation it starts ends `Failed` with this error.
    LroFails {
        /// Error code, e.g. `InsufficientCapacity`.
        code: String,
        /// Error message.
        message: String,
    },
    /// Accept the request; the operation stays `InProgress` forever.
    LroStuck {
        /// For container groups: an instance-view event, e.g. `Failed to pull image ...`.
        #[serde(default)]
        event: Option<String>,
    },
    /// Close the connection without answering.
    ResetConnection,
    /// Do the work, then fail the response (a timeout after the write took effect).
    AfterWrite {
        /// How the response fails.
        then: AfterWrite,
    },
    /// The simulated proxy answers 503 on its health endpoint.
    HealthCheck503,
    /// The simulated proxy fails key release with this reason.
    KeyReleaseFails {
        /// Text returned as `{"error": reason}`.
        reason: String,
    },
}

/// Failure applied after a write took effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AfterWrite {
    /// Replace the response by this error.
    Status {
        /// HTTP status.
        status: u16,
        /// Error code.
        code: String,
        /// Error message.
        message: String,
        /// `Retry-After` seconds.
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Close the connection instead of answering.
    ResetConnection,
}

/// What kind of request a fault is looked up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultTarget {
    /// ARM or Key Vault requests on the HTTPS endpoint.
    Service,
    /// `GET /polaris-container/health` on a simulated proxy.
    Health,
    /// `GET /polaris-container/publicKey` on a simulated proxy.
    KeyRelease,
}

impl Fault {
    fn applies_to(&self, target: FaultTarget) -> bool {
        match self {
            Fault::HealthCheck503 => target == FaultTarget::Health,
            Fault::KeyReleaseFails { .. } => target == FaultTarget::KeyRelease,
            _ => target == FaultTarget::Service,
        }
    }
}

struct ActiveRule {
    rule: FaultRule,
    regex: Option<Regex>,
    seen: u32,
}

impl ActiveRule {
    fn new(rule: FaultRule) -> Result<Self, SimError> {
        let regex = match &rule.matcher.path {
            PathPattern::Regex(pattern) => Some(
                Regex::new(pattern)
                    .map_err(|source| SimError::Pattern { pattern: pattern.clone(), source })?,
            ),
            PathPattern::Contains(_) => None,
        };
        Ok(Self { rule, regex, seen: 0 })
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let matcher = &self.rule.matcher;
        if let Some(m) = &matcher.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        match (&matcher.path, &self.regex) {
            (_, Some(regex)) => regex.is_match(path),
            (PathPattern::Contains(needle), None) => {
                path.to_ascii_lowercase().contains(&needle.to_ascii_lowercase())
            }
            (PathPattern::Regex(_), None) => false,
        }
    }

    fn exhausted(&self) -> bool {
        self.rule.times == Some(0)
    }
}

/// Live fault rules of a running simulator; clones share the same rules.
#[derive(Clone, Default)]
pub struct FaultHandle {
    rules: Arc<Mutex<Vec<ActiveRule>>>,
}

impl std::fmt::Debug for FaultHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultHandle").field("plan", &self.plan()).finish()
    }
}

impl FaultHandle {
    pub(crate) fn new(plan: FaultPlan) -> Result<Self, SimError> {
        let handle = Self::default();
        handle.set_plan(plan)?;
        Ok(handle)
    }

    /// Replaces all rules (counters restart).
    pub fn set_plan(&self, plan: FaultPlan) -> Result<(), SimError> {
        let rules = plan.rules.into_iter().map(ActiveRule::new).collect::<Result<Vec<_>, _>>()?;
        *self.lock() = rules;
        Ok(())
    }

    /// Appends one rule.
    pub fn push(&self, rule: FaultRule) -> Result<(), SimError> {
        let rule = ActiveRule::new(rule)?;
        self.lock().push(rule);
        Ok(())
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The rules that can still fire, with their remaining `times`.
    pub fn plan(&self) -> FaultPlan {
        let rules = self.lock().iter().filter(|r| !r.exhausted()).map(|r| r.rule.clone()).collect();
        FaultPlan { rules }
    }

    /// Counts the request against every matching rule and returns the fault that fires.
    pub(crate) fn take(&self, target: FaultTarget, method: &str, path: &str) -> Option<Fault> {
        let mut rules = self.lock();
        let mut fired = None;

        for active in rules.iter_mut() {
            if active.exhausted()
                || !active.rule.fault.applies_to(target)
                || !active.matches(method, path)
            {
                continue;
            }
            active.seen += 1;
            let fires = match active.rule.matcher.occurrence {
                Occurrence::Every => true,
                Occurrence::Nth(n) => active.seen == n,
            };
            if fires && fired.is_none() {
                if let Some(times) = active.rule.times.as_mut() {
                    *times -= 1;
                }
                fired = Some(active.rule.fault.clone());
            }
        }
        fired
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ActiveRule>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> Fault {
        Fault::Status {
            status: 429,
            code: "TooManyRequests".into(),
            message: "slow down".into(),
            retry_after: Some(17),
        }
    }

    #[test]
    fn rule_is_consumed_after_its_times() {
        let plan = FaultPlan::default().with(FaultRule::on("/vaults/", throttle()).times(2));
        let faults = FaultHandle::new(plan).unwrap();

        assert!(faults.take(FaultTarget::Service, "PUT", "/a/VAULTS/x").is_some());
        assert!(faults.take(FaultTarget::Service, "GET", "/a/vaults/x").is_some());
        assert!(faults.take(FaultTarget::Service, "GET", "/a/vaults/x").is_none());
        assert!(faults.plan().rules.is_empty());
    }

    #[test]
    fn nth_rule_fires_only_on_that_request_and_method() {
        let rule = FaultRule::on("containerGroups", Fault::ResetConnection).method("put").nth(2);
        let faults = FaultHandle::new(FaultPlan::default().with(rule)).unwrap();

        assert_eq!(faults.take(FaultTarget::Service, "GET", "/containerGroups/g"), None);
        assert_eq!(faults.take(FaultTarget::Service, "PUT", "/containerGroups/g"), None);
        let second = faults.take(FaultTarget::Service, "PUT", "/containerGroups/g");
        assert_eq!(second, Some(Fault::ResetConnection));
        assert_eq!(faults.take(FaultTarget::Service, "PUT", "/containerGroups/g"), None);
    }

    #[test]
    fn listener_faults_do_not_fire_on_service_requests() {
        let rule = FaultRule::on("g1", Fault::HealthCheck503);
        let faults = FaultHandle::new(FaultPlan::default().with(rule)).unwrap();

        assert_eq!(faults.take(FaultTarget::Service, "GET", "/x/g1"), None);
        assert_eq!(faults.take(FaultTarget::Health, "GET", "/x/g1"), Some(Fault::HealthCheck503));
    }

    #[test]
    fn plan_json_round_trips_and_regex_is_checked() {
        let json = r#"{"rules":[
            {"match":{"method":"PUT","path":{"regex":"(?i)/containerGroups/[^/]+$"},
                      "occurrence":{"nth":1}},
             "fault":{"kind":"lro_fails","code":"InsufficientCapacity",
                      "message":"The requested resource is not available"},
             "times":1},
            {"match":{"path":{"contains":"/subnets/"}},
             "fault":{"kind":"after_write","then":{"kind":"reset_connection"}}}
        ]}"#;

        let plan = FaultPlan::from_json(json).unwrap();
        let faults = FaultHandle::new(plan.clone()).unwrap();

        assert_eq!(plan.rules.len(), 2);
        assert_eq!(plan.rules[0].matcher.occurrence, Occurrence::Nth(1));
        let fired = faults.take(FaultTarget::Service, "PUT", "/rg/containergroups/g1");
        assert!(matches!(fired, Some(Fault::LroFails { .. })));
        let back: FaultPlan = serde_json::from_str(&serde_json::to_string(&plan).unwrap()).unwrap();
        assert_eq!(back, plan);

        let bad = FaultRule::on("x", Fault::ResetConnection);
        let bad = FaultRule {
            matcher: RequestMatcher { path: PathPattern::Regex("(".into()), ..bad.matcher },
            ..bad
        };
        assert!(matches!(faults.push(bad), Err(SimError::Pattern { .. })));
    }
}
