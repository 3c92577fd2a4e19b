//! RFC 9457 problem details: every error answer of the API has this one shape, so a client
//! handles 400, 404 and 409 alike and finds every field problem in one answer.

use serde::Serialize;
use utoipa::ToSchema;
use warp::http::StatusCode;

use polaris_core::spec::SpecErrors;

use crate::error::WorkerError;

/// Media type of a problem answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field of a spec that does not validate, with how to fix it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FieldProblem {
    /// JSON path of the offending value, e.g. `workload_port`.
    pub field: String,
    pub problem: String,
    pub fix: String,
}

/// `application/problem+json` (RFC 9457).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request path the problem is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Every field problem of an invalid spec.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldProblem>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &str, title: &str) -> Self {
        Self {
            kind: format!("urn:polaris:problem:{kind}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: None,
            instance: None,
            errors: Vec::new(),
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn at(mut self, instance: &str) -> Self {
        self.instance = Some(instance.to_owned());
        self
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found").with_detail(what)
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request").with_detail(detail)
    }

    pub fn invalid_spec(errors: &SpecErrors) -> Self {
        let mut problem = Self::new(StatusCode::BAD_REQUEST, "invalid-spec", "Invalid spec")
            .with_detail(format!("the deployment spec has {} problem(s)", errors.len()));
        problem.errors = errors
            .iter()
            .map(|e| FieldProblem {
                field: e.field.clone(),
                problem: e.message.clone(),
                fix: e.fix.clone(),
            })
            .collect();
        problem
    }

    /// Maps a service error; internal details (store paths) stay in the logs.
    pub fn from_worker(err: &WorkerError) -> Self {
        match err {
            WorkerError::UnknownDeployment { id } => {
                Self::not_found(&format!("deployment `{id}` does not exist"))
            }
            WorkerError::InvalidSpec(errors) => Self::invalid_spec(errors),
            WorkerError::Saga(polaris_core::saga::SagaError::IllegalTransition {
                event,
                status,
            }) => Self::new(StatusCode::CONFLICT, "conflict", "Not allowed in this state")
                .with_detail(format!(
                    "`{event}` is not allowed while the deployment is {}",
                    status.as_str()
                )),
            WorkerError::Busy { .. } => Self::new(StatusCode::CONFLICT, "busy", "Deployment busy")
                .with_detail("another request is changing this deployment; try again"),
            WorkerError::Store(_) | WorkerError::Send(_) | WorkerError::Secrets(_) => {
                tracing::warn!(error = %err, "API request failed on a backing service");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable")
                    .with_detail("a backing service is unavailable; try again")
            }
            other => {
                tracing::warn!(error = %other, "API request failed");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error")
            }
        }
    }
}
