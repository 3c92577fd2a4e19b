//! CLI subcommands over HTTP (`polaris --api <url> ...`).

use std::process::ExitCode;
use std::time::Duration;

use super::client::{ApiClient, ClientError};
use super::views::DeploymentView;

/// What the CLI asks the API to do.
#[derive(Clone, Debug)]
pub enum RemoteCommand {
    Deploy { spec: serde_json::Value, idempotency_key: Option<String>, wait: bool },
    Status { id: String },
    List { status: Option<String> },
    Teardown { id: String, wait: bool },
    Retry { id: String },
    Abandon { id: String, reason: String },
    RotateKey { id: String },
    Plan { spec: serde_json::Value },
}

fn show(view: &DeploymentView) {
    crate::outln!("{}", serde_json::to_string_pretty(view).unwrap_or_default());
}

fn err(e: ClientError) -> String {
    e.to_string()
}

/// Runs one command against `url`; the exit code says whether the deployment ended well.
pub async fn run(
    command: RemoteCommand,
    url: &str,
    token: Option<String>,
) -> Result<ExitCode, String> {
    let client = ApiClient::new(url, token).map_err(err)?;
    let poll = Duration::from_millis(500);
    match command {
        RemoteCommand::Deploy { spec, idempotency_key, wait } => {
            let view = client.submit(&spec, idempotency_key.as_deref()).await.map_err(err)?;
            eprintln!("deployment {} accepted", view.id);
            let view = if wait { client.wait(&view.id, poll).await.map_err(err)? } else { view };
            show(&view);
            Ok(exit(wait && view.status != "succeeded"))
        }
        RemoteCommand::Status { id } => {
            show(&client.get(&id, true).await.map_err(err)?);
            Ok(ExitCode::SUCCESS)
        }
        RemoteCommand::List { status } => {
            let mut continuation: Option<String> = None;
            loop {
                let page =
                    client.list(status.as_deref(), continuation.as_deref()).await.map_err(err)?;
                for item in &page.items {
                    crate::outln!("{}\t{}\t{}", item.id, item.status, item.runtime_status);
                }
                match page.continuation {
                    Some(next) => continuation = Some(next),
                    None => return Ok(ExitCode::SUCCESS),
                }
            }
        }
        RemoteCommand::Teardown { id, wait } => {
            let view = client.teardown(&id).await.map_err(err)?;
            let view = if wait { client.wait(&view.id, poll).await.map_err(err)? } else { view };
            show(&view);
            Ok(exit(wait && !matches!(view.status.as_str(), "torn_down" | "cancelled")))
        }
        RemoteCommand::Retry { id } => {
            show(&client.retry(&id).await.map_err(err)?);
            Ok(ExitCode::SUCCESS)
        }
        RemoteCommand::Abandon { id, reason } => {
            show(&client.abandon(&id, &reason).await.map_err(err)?);
            Ok(ExitCode::SUCCESS)
        }
        RemoteCommand::RotateKey { id } => {
            let outcome = client.rotate_key(&id).await.map_err(err)?;
            crate::outln!("{}", serde_json::to_string_pretty(&outcome).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        RemoteCommand::Plan { spec } => {
            let plan = client.plan(&spec).await.map_err(err)?;
            crate::outln!("{}", serde_json::to_string_pretty(&plan).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn exit(failed: bool) -> ExitCode {
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
