//! Command-line interface.

mod deploy;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use polaris_core::ids::DeploymentId;

/// Deploys confidential AI inference endpoints on Azure as an event-driven saga.
#[derive(Debug, Parser)]
#[command(name = "polaris", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `polaris=debug`.
    #[arg(long, global = true, env = "POLARIS_LOG", default_value = "warn")]
    pub log: String,
    /// Emit logs as JSON lines.
    #[arg(long, global = true)]
    pub log_json: bool,
    #[command(flatten)]
    pub api: crate::api::cli::ApiArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deploy a spec on the embedded default (simulated Azure) and print the outputs.
    Deploy {
        /// Path to the deployment spec (JSON).
        spec: PathBuf,
        /// Where deployment state and secrets are kept.
        #[arg(long, env = "POLARIS_STATE_DIR", default_value = ".polaris")]
        state_dir: PathBuf,
        /// A simulator fault plan (JSON) to inject Azure failures.
        #[arg(long)]
        faults: Option<PathBuf>,
        /// Print the final state as JSON instead of a summary.
        #[arg(long)]
        json: bool,
        /// Tear the deployment down again once it succeeded.
        #[arg(long)]
        teardown: bool,
    },
    /// Validate a spec and print its plan.
    Plan {
        spec: PathBuf,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a deployment's state and history from the local state directory.
    Status {
        id: String,
        #[arg(long, env = "POLARIS_STATE_DIR", default_value = ".polaris")]
        state_dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Run as the Azure Functions custom handler on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT.
    Serve,
    /// Validate a spec and send its deploy message straight to the Service Bus queue.
    Enqueue {
        spec: PathBuf,
        /// Re-sending with the same key (and spec) is absorbed instead of deploying twice.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Run the deterministic fault simulation over a range of seeds and check invariants.
    Chaos {
        /// How many seeds to run.
        #[arg(long, default_value_t = 100)]
        seeds: u64,
        /// First seed.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// OS threads running seeds side by side (each seed is single-threaded).
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Print one line per seed, not only the failures.
        #[arg(long)]
        verbose: bool,
    },
    /// Run the benchmarks and print each figure as `name: value`.
    Bench {
        /// Only the benchmarks whose name contains this (critical, python, throughput,
        /// serve).
        #[arg(long)]
        only: Option<String>,
        /// Concurrent deployments in the throughput benchmark.
        #[arg(long, default_value_t = 1000)]
        deployments: usize,
    },
    /// Run the simulated Azure alone and print its endpoint.
    Sim {
        /// Write the simulator's CA certificate here.
        #[arg(long, default_value = ".polaris/sim-ca.pem")]
        ca_out: PathBuf,
    },
    #[command(flatten)]
    Api(crate::api::cli::ApiCommand),
}

/// Writes command output; a closed stdout ends the process with success, like other Unix
/// tools, rather than a panic.
pub fn write_stdout(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write output: {e}");
        std::process::exit(1);
    }
}

pub fn init_tracing(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&cli.log).unwrap_or_else(|_| EnvFilter::new("warn"));
    // The Functions host logs every stderr line as an error, so `serve` logs to stdout,
    // without colour codes (they would end up in Application Insights).
    let serve = matches!(cli.command, Command::Serve);
    let writer = if serve {
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stdout)
    } else {
        tracing_subscriber::fmt::writer::BoxMakeWriter::new(std::io::stderr)
    };
    // Colour only for a person at a terminal, never in files, pipes or the host's logs.
    let ansi = !serve && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(ansi);
    if cli.log_json {
        builder.json().init();
    } else {
        builder.compact().init();
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    let remote = crate::api::cli::intercept(&cli).await;
    let result = match (remote, cli.command) {
        (Some(result), _) => result,
        (None, Command::Api(command)) => crate::api::cli::run_local(command, &cli.api).await,
        (None, command) => run_embedded(command).await,
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run_embedded(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Deploy { spec, state_dir, faults, json, teardown } => {
            deploy::deploy(&spec, &state_dir, faults.as_deref(), json, teardown).await
        }
        Command::Plan { spec, json } => deploy::plan(&spec, json),
        Command::Status { id, state_dir, json } => match DeploymentId::new(id) {
            Ok(id) => deploy::status(&id, &state_dir, json).await,
            Err(e) => Err(e.to_string()),
        },
        Command::Sim { ca_out } => deploy::sim(&ca_out).await,
        Command::Bench { only, deployments } => crate::bench::run_cli(only, deployments).await,
        Command::Chaos { seeds, from, threads, verbose } => {
            crate::chaos::run_cli(seeds, from, threads, verbose).await
        }
        Command::Serve => Ok(crate::serve::run_serve().await),
        Command::Enqueue { spec, idempotency_key } => {
            crate::serve::run_enqueue(&spec, idempotency_key.as_deref()).await
        }
        Command::Api(command) => Err(format!("{command:?} is handled by the API module")),
    }
}
