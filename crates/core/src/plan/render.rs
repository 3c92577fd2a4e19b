//! A plan as text for people: one row per step, then outputs and warnings.
//!
//! JSON needs no renderer: it is the serde form of [`Plan`].

use std::fmt::Write as _;

use super::model::{ComputeKind, Mode, OutputSource, Plan, PlannedStep, StepKind};

/// Renders `plan` as an aligned table of steps (name, kind, depends-on, deadline, resource),
/// followed by the module outputs and the warnings.
pub fn render_text(plan: &Plan) -> String {
    let mode = match plan.mode {
        Mode::Standard => "standard",
        Mode::Enhanced => "enhanced",
    };
    let compute = match plan.compute {
        ComputeKind::ContainerGroup => "container group",
        ComputeKind::ConfidentialVm => "confidential VM",
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Plan {} ({mode} mode, {compute}) in {}, subscription {}",
        plan.deployment_id, plan.location, plan.subscription_id
    );
    out.push('\n');

    let rows: Vec<[String; 5]> = plan.steps.iter().map(row).collect();
    let header = ["STEP", "KIND", "DEPENDS ON", "DEADLINE", "RESOURCE"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        let line = r
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        let _ = writeln!(out, "{}", line.trim_end());
    }

    out.push_str("\nOutputs:\n");
    let name_width = plan.outputs.iter().map(|o| o.name.len()).max().unwrap_or(0);
    for output in &plan.outputs {
        let source = match &output.source {
            OutputSource::Literal { value } => format!("= {value}"),
            OutputSource::Step { step, output } => format!("<- {step}.{output}"),
            OutputSource::Null => "= null".to_owned(),
        };
        let _ = writeln!(out, "  {:<name_width$}  {source}", output.name);
    }

    if !plan.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for warning in &plan.warnings {
            let _ = writeln!(out, "  - {warning}");
        }
    }
    out
}

fn row(step: &PlannedStep) -> [String; 5] {
    let (kind, resource) = match &step.kind {
        StepKind::Arm(r) => ("arm", r.id.clone()),
        StepKind::Vault(v) => ("vault", v.arm.id.clone()),
        StepKind::Key(k) => ("key", k.arm.id.clone()),
        StepKind::Verify(v) => ("verify", v.id.clone()),
        StepKind::HealthCheck(h) => {
            let mut probe = format!("GET http://{}:{}{}", h.host, h.port, h.health_path);
            if let Some(path) = &h.key_release_path {
                let _ = write!(probe, " then {path}");
            }
            ("health", probe)
        }
    };
    let depends = if step.depends_on.is_empty() {
        "-".to_owned()
    } else {
        step.depends_on.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(", ")
    };
    let deadline = format!("{}m", step.deadline_secs.div_ceil(60));
    [step.name.to_string(), kind.to_owned(), depends, deadline, resource]
}
