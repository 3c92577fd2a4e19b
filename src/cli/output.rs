//! How deployments are shown to a person.

use std::fmt::Write as _;

use polaris_core::plan::MODULE_OUTPUTS;
use polaris_core::saga::{DeploymentStatus, HistoryEntry, SagaState};

pub fn history_line(entry: &HistoryEntry) -> String {
    let time = entry.at.time();
    let step = entry.step.as_ref().map(|s| s.as_str()).unwrap_or("deployment");
    let phase = match entry.phase {
        Some(polaris_core::saga::Phase::Undo) => " (undo)",
        _ => "",
    };
    let mut line = format!(
        "{:02}:{:02}:{:02}  {step}{phase}: {}",
        time.hour(),
        time.minute(),
        time.second(),
        entry.event.replace('_', " ")
    );
    if !entry.detail.is_empty() {
        let _ = write!(line, " - {}", entry.detail);
    }
    if let Some(id) = &entry.request_id {
        let _ = write!(line, " [request {id}]");
    }
    line
}

/// The summary printed when a deployment ends.
pub fn summary(state: &SagaState) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "deployment {}: {}", state.deployment_id, state.status.as_str());

    if let Some(f) = &state.failure {
        let _ = writeln!(out, "failed step: {} ({})", f.step, f.phase.as_str());
        let _ = writeln!(out, "error: {}: {}", f.code, f.message);
        if let Some(id) = &f.request_id {
            let _ = writeln!(out, "azure request id: {id}");
        }
    }

    // What the undo path did, step by step: removed, found gone, or left alone as not ours.
    let undone = state.history.iter().filter(|h| h.event == "undone");
    let (mut removed, mut gone, mut kept) = (Vec::new(), Vec::new(), Vec::new());
    for entry in undone {
        let Some(step) = entry.step.as_ref().map(|s| s.as_str()) else { continue };
        if entry.detail.starts_with("left in place") {
            kept.push(step);
        } else if entry.detail.starts_with("already gone") {
            gone.push(step);
        } else {
            removed.push(step);
        }
    }
    let verb = match state.status {
        DeploymentStatus::TornDown | DeploymentStatus::TearingDown => "teardown",
        _ => "compensation",
    };
    for (list, what) in
        [(removed, "removed"), (gone, "found already gone"), (kept, "left in place (not ours)")]
    {
        if !list.is_empty() {
            let _ = writeln!(out, "{verb} {what}: {}", list.join(", "));
        }
    }

    if state.status == DeploymentStatus::Succeeded {
        let _ = writeln!(out, "\nOutputs:");
        // The module's seven first, then any the compute variant adds.
        let extra = state.outputs.keys().filter(|k| !MODULE_OUTPUTS.contains(&k.as_str()));
        for name in MODULE_OUTPUTS.iter().copied().chain(extra.map(String::as_str)) {
            let value = state.outputs.get(name).cloned().flatten();
            let shown = value.unwrap_or_else(|| "null".to_owned());
            let _ = writeln!(out, "  {name:<22} = {shown}");
        }
    }
    out
}
