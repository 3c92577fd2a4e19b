//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` attributes.

use utoipa::OpenApi;

use super::handlers;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "polaris-orchestrator Deployments API",
        description = "Deploys confidential AI inference endpoints on Azure as a saga."
    ),
    paths(
        handlers::submit,
        handlers::list,
        handlers::get,
        handlers::teardown,
        handlers::retry,
        handlers::abandon,
        handlers::rotate_key,
        handlers::plan,
        handlers::openapi,
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

/// Declares the bearer scheme the embedded runtime checks; in Azure the host's function
/// keys apply instead.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Every route the dispatcher serves, as (method, OpenAPI path); the route test checks this
/// list, the document and the dispatcher agree.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/deployments"),
    ("get", "/api/deployments"),
    ("get", "/api/deployments/{id}"),
    ("delete", "/api/deployments/{id}"),
    ("post", "/api/deployments/{id}/retry"),
    ("post", "/api/deployments/{id}/abandon"),
    ("post", "/api/deployments/{id}/rotate-key"),
    ("post", "/api/plan"),
    ("get", "/api/openapi.json"),
];

/// The document as JSON.
pub fn openapi_document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serializes")
}

/// The document as pretty JSON (`polaris openapi`).
pub fn openapi_json() -> String {
    serde_json::to_string_pretty(&openapi_document()).expect("serializes")
}
