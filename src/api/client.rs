//! The CLI's HTTP client for `--api <url>`: the same operations as the embedded path, over
//! the Deployments API.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::views::{DeploymentPage, DeploymentView};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad API URL `{0}`")]
    Url(String),
    #[error("cannot reach the API: {0}")]
    Http(#[from] reqwest::Error),
    /// A problem+json answer, shown as the server wrote it.
    #[error("{}", format_problem(.status, .body))]
    Problem { status: u16, body: Value },
}

fn format_problem(status: &u16, body: &Value) -> String {
    let text = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let mut out = format!("HTTP {status} {}", text("title"));
    let detail = text("detail");
    if !detail.is_empty() {
        out.push_str(&format!(": {detail}"));
    }
    for e in body.get("errors").and_then(Value::as_array).into_iter().flatten() {
        let f = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        out.push_str(&format!("\n  - `{}`: {}; fix: {}", f("field"), f("problem"), f("fix")));
    }
    out
}

/// An answer whose body is not what the route documents.
fn unexpected(answer: Answer) -> ClientError {
    ClientError::Problem { status: answer.status.as_u16(), body: answer.body }
}

/// A client of one API base URL (`http://127.0.0.1:7071`).
#[derive(Clone, Debug)]
pub struct ApiClient {
    base: url::Url,
    token: Option<String>,
    http: reqwest::Client,
}

/// An answer's status and JSON body.
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: Value,
}

impl ApiClient {
    pub fn new(base: &str, token: Option<String>) -> Result<Self, ClientError> {
        let base = url::Url::parse(base).map_err(|_| ClientError::Url(base.to_owned()))?;
        let http =
            reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build()?;
        Ok(Self { base, token, http })
    }

    fn url(&self, path: &str) -> Result<url::Url, ClientError> {
        self.base.join(path).map_err(|_| ClientError::Url(path.to_owned()))
    }

    /// Sends one request; a problem answer becomes [`ClientError::Problem`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, ClientError> {
        let mut request = self.http.request(method, self.url(path)?);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let location =
            response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_client_error() || status.is_server_error() {
            return Err(ClientError::Problem { status: status.as_u16(), body });
        }
        Ok(Answer { status, location, body })
    }

    fn view(answer: Answer) -> Result<DeploymentView, ClientError> {
        serde_json::from_value(answer.body.clone()).map_err(|_| unexpected(answer))
    }

    pub async fn submit(
        &self,
        spec: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<DeploymentView, ClientError> {
        let headers: Vec<(&str, &str)> =
            idempotency_key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
        Self::view(self.send(Method::POST, "/api/deployments", Some(spec), &headers).await?)
    }

    pub async fn get(&self, id: &str, history: bool) -> Result<DeploymentView, ClientError> {
        let path = format!("/api/deployments/{id}{}", if history { "?history=true" } else { "" });
        Self::view(self.send(Method::GET, &path, None, &[]).await?)
    }

    pub async fn list(
        &self,
        status: Option<&str>,
        continuation: Option<&str>,
    ) -> Result<DeploymentPage, ClientError> {
        let mut url = self.url("/api/deployments")?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = status {
                q.append_pair("status", s);
            }
            if let Some(c) = continuation {
                q.append_pair("continuation", c);
            }
        }
        let path = format!("{}?{}", url.path(), url.query().unwrap_or_default());
        let answer = self.send(Method::GET, &path, None, &[]).await?;
        serde_json::from_value(answer.body.clone()).map_err(|_| unexpected(answer))
    }

    pub async fn teardown(&self, id: &str) -> Result<DeploymentView, ClientError> {
        Self::view(self.send(Method::DELETE, &format!("/api/deployments/{id}"), None, &[]).await?)
    }

    pub async fn retry(&self, id: &str) -> Result<DeploymentView, ClientError> {
        let path = format!("/api/deployments/{id}/retry");
        Self::view(self.send(Method::POST, &path, None, &[]).await?)
    }

    pub async fn abandon(&self, id: &str, reason: &str) -> Result<DeploymentView, ClientError> {
        let path = format!("/api/deployments/{id}/abandon");
        let body = serde_json::json!({ "reason": reason });
        Self::view(self.send(Method::POST, &path, Some(&body), &[]).await?)
    }

    pub async fn rotate_key(&self, id: &str) -> Result<Value, ClientError> {
        let path = format!("/api/deployments/{id}/rotate-key");
        Ok(self.send(Method::POST, &path, None, &[]).await?.body)
    }

    pub async fn plan(&self, spec: &Value) -> Result<Value, ClientError> {
        Ok(self.send(Method::POST, "/api/plan", Some(spec), &[]).await?.body)
    }

    /// Polls until the deployment is terminal.
    pub async fn wait(&self, id: &str, every: Duration) -> Result<DeploymentView, ClientError> {
        loop {
            let view = self.get(id, false).await?;
            if view.terminal {
                return Ok(view);
            }
            tokio::time::sleep(every).await;
        }
    }
}
