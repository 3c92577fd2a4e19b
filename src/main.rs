//! `polaris`: the orchestrator's one binary. `deploy`, `status` and `plan` run on the
//! embedded default (in-process queue, local state, simulated Azure); `serve` is the Azure
//! Functions custom handler; `sim` runs the simulated Azure alone.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = polaris::cli::Cli::parse();
    polaris::cli::init_tracing(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(polaris::cli::run(cli))
}
