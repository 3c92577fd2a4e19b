//! Per-request context handed to the handlers.

use time::OffsetDateTime;

use crate::config::SimConfig;
use crate::faults::Fault;
use crate::request::SimRequest;
use crate::state::operations::OpOutcome;

pub(crate) struct Ctx<'a> {
    pub config: &'a SimConfig,
    /// `https://127.0.0.1:<port>`, used to build absolute polling URLs.
    pub base_url: &'a str,
    pub now: OffsetDateTime,
    pub req: &'a SimRequest,
    /// An `LroFails`/`LroStuck` fault for the operation this request starts.
    pub lro_fault: Option<Fault>,
}

impl Ctx<'_> {
    /// How the operation started by this request ends; consumes the injected fault.
    pub fn take_outcome(&mut self) -> OpOutcome {
        match self.lro_fault.take() {
            Some(Fault::LroFails { code, message }) => OpOutcome::Fail { code, message },
            Some(Fault::LroStuck { event }) => OpOutcome::Stuck { event },
            _ => OpOutcome::Succeed,
        }
    }

    pub fn api_version(&self) -> &str {
        self.req.query_param("api-version").unwrap_or_default()
    }

    /// Absolute URL for a path on this simulator, carrying the request's api-version.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}?api-version={}", self.base_url, path, self.api_version())
    }

    pub fn is(&self, method: &http::Method) -> bool {
        self.req.method == method
    }
}
