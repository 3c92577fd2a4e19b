//! The CLI's API side: `--api <url>` sends `deploy`, `status`, `plan` and the lifecycle
//! subcommands to a Deployments API instead of the embedded runtime, and `up` serves one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use super::remote::{self, RemoteCommand};
use crate::cli::{Cli, Command};

/// Where the API is.
#[derive(Clone, Debug, clap::Args)]
pub struct ApiArgs {
    /// Call the Deployments API at this URL (e.g. `http://127.0.0.1:7071`) instead of the
    /// embedded runtime.
    #[arg(long = "api", global = true, env = "POLARIS_API_URL")]
    pub url: Option<String>,
    /// Bearer token for `--api`, and the token `up` requires.
    #[arg(long, global = true, env = "POLARIS_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
}

/// Subcommands that only exist through the API.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ApiCommand {
    /// Tear a deployment down (or cancel it while running); needs `--api`.
    Teardown {
        /// Deployment id, as `submit` or `list` printed it.
        id: String,
        /// Return at once instead of waiting for the end.
        #[arg(long)]
        no_wait: bool,
    },
    /// Redrive a failed or stuck deployment from the failed step; needs `--api`.
    Retry {
        /// Deployment id.
        id: String,
    },
    /// Give up on a stuck undo, recording the reason; needs `--api`.
    Abandon {
        /// Deployment id.
        id: String,
        /// Why the operator gives up; kept in the history with what may remain in Azure.
        #[arg(long)]
        reason: String,
    },
    /// Rotate a deployment's key now; needs `--api`.
    RotateKey {
        /// Deployment id (enhanced mode only).
        id: String,
    },
    /// List deployments; needs `--api`.
    List {
        /// Only deployments in this status (`running`, `succeeded`, `compensated`, ...).
        #[arg(long)]
        status: Option<String>,
    },
    /// Print the API's OpenAPI document.
    Openapi,
    /// Run the embedded runtime and serve the Deployments API and Event Grid webhook.
    Up {
        /// Address to listen on. Anything but loopback requires `--api-token`.
        #[arg(long, default_value = "127.0.0.1:7071")]
        listen: SocketAddr,
        #[arg(long, env = "POLARIS_STATE_DIR", default_value = ".polaris")]
        state_dir: PathBuf,
    },
}

fn read_spec(path: &std::path::Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read spec `{}`: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("spec `{}`: {e}", path.display()))
}

/// With `--api`, runs `deploy`, `status`, `plan` and the API subcommands remotely; `None`
/// leaves the command to the embedded path.
pub async fn intercept(cli: &Cli) -> Option<Result<ExitCode, String>> {
    let url = cli.api.url.as_deref()?;
    let token = cli.api.api_token.clone();
    let command = match &cli.command {
        Command::Deploy { spec, teardown, .. } => {
            if *teardown {
                return Some(Err("with --api, run `teardown <id>` after deploy".into()));
            }
            match read_spec(spec) {
                Ok(spec) => RemoteCommand::Deploy { spec, idempotency_key: None, wait: true },
                Err(e) => return Some(Err(e)),
            }
        }
        Command::Status { id, .. } => RemoteCommand::Status { id: id.clone() },
        Command::Plan { spec, .. } => match read_spec(spec) {
            Ok(spec) => RemoteCommand::Plan { spec },
            Err(e) => return Some(Err(e)),
        },
        Command::Api(api) => match api.clone() {
            ApiCommand::Teardown { id, no_wait } => RemoteCommand::Teardown { id, wait: !no_wait },
            ApiCommand::Retry { id } => RemoteCommand::Retry { id },
            ApiCommand::Abandon { id, reason } => RemoteCommand::Abandon { id, reason },
            ApiCommand::RotateKey { id } => RemoteCommand::RotateKey { id },
            ApiCommand::List { status } => RemoteCommand::List { status },
            ApiCommand::Openapi | ApiCommand::Up { .. } => return None,
        },
        _ => return None,
    };
    Some(remote::run(command, url, token).await)
}

/// The API subcommands without `--api`.
pub async fn run_local(command: ApiCommand, args: &ApiArgs) -> Result<ExitCode, String> {
    match command {
        ApiCommand::Openapi => {
            crate::outln!("{}", super::openapi_json());
            Ok(ExitCode::SUCCESS)
        }
        ApiCommand::Up { listen, state_dir } => {
            super::serve::up(listen, &state_dir, args.api_token.clone()).await
        }
        other => Err(format!(
            "`{}` needs a running API: start `polaris up`, then pass --api http://127.0.0.1:7071",
            name(&other)
        )),
    }
}

fn name(command: &ApiCommand) -> &'static str {
    match command {
        ApiCommand::Teardown { .. } => "teardown",
        ApiCommand::Retry { .. } => "retry",
        ApiCommand::Abandon { .. } => "abandon",
        ApiCommand::RotateKey { .. } => "rotate-key",
        ApiCommand::List { .. } => "list",
        ApiCommand::Openapi => "openapi",
        ApiCommand::Up { .. } => "up",
    }
}
