//! Helpers for the API, rotation and event tests: requests through `warp::test` against
//! the real filter, over the shared end-to-end harness.
#![allow(dead_code)]

use std::sync::Arc;

use polaris::api::{Api, ApiAuth};
use serde_json::{Value, json};
use warp::http::{HeaderMap, StatusCode};

/// A value that must never appear in any answer, log line or state document.
pub const CANARY: &str = "canary-5ecret-9f2c61d0";

/// The enhanced example with the canary as registry password and secure env value.
pub fn secret_spec(example: Value) -> Value {
    let mut spec = example;
    spec["registry_login_server"] = json!("your-registry.azurecr.io");
    spec["registry_username"] = json!("puller");
    spec["registry_password"] = json!(CANARY);
    spec["workload_env_vars"]["API_KEY"] = json!({ "value": CANARY, "secret": true });
    spec
}

/// One answer.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn api(app: Arc<polaris::app::App>) -> Api {
    Api::new(app, ApiAuth::LoopbackOnly)
}

pub async fn call(
    api: &Api,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = warp::test::request().method(method).path(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let filter = api.clone().routes();
    let response = request.reply(&filter).await;
    let text = String::from_utf8_lossy(response.body()).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status: response.status(), headers: response.headers().clone(), text, body }
}
