//! The text rendering names every step, its dependencies, resources and warnings.

mod plan_support;

use plan_support::*;
use polaris_core::plan::render::render_text;
use serde_json::json;

#[test]
fn text_lists_steps_dependencies_resources_outputs_and_warnings() {
    let plan = plan(&with(json!({
        "networking_type": "Private",
        "polaris_proxy_source_ranges": ["10.0.0.0/8"]
    })));
    let text = render_text(&plan);

    assert!(
        text.starts_with(
            "Plan polaris-test-0a1b2c3d (enhanced mode, container group) in westeurope"
        )
    );
    let header = text.lines().find(|l| l.starts_with("STEP")).expect("table header");
    assert!(header.contains("DEPENDS ON") && header.contains("RESOURCE"));

    let row = |name: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row for {name} in\n{text}"))
    };
    assert!(row("subnet").contains("vnet, nsg"));
    assert!(row("subnet").contains("/virtualNetworks/polaris-test-vnet/subnets/default"));
    assert!(row("resource_group").contains(" - "));
    assert!(row("container_group").contains("20m"));
    assert!(
        row("health_check")
            .contains("GET http://${container_group.ip}:3000/polaris-container/health")
    );

    assert!(text.contains("\nOutputs:\n"));
    assert!(text.contains("key_vault_uri") && text.contains("<- vault.uri"));
    assert!(text.contains("container_group_ip") && text.contains("= null"));
    assert!(text.contains("\nWarnings:\n  - "));
    assert_eq!(text.lines().filter(|l| l.starts_with("  - ")).count(), plan.warnings.len());
}

#[test]
fn rows_follow_plan_order() {
    let plan = plan(&minimal());
    let text = render_text(&plan);
    let positions: Vec<usize> = plan
        .steps
        .iter()
        .map(|s| text.find(&format!("\n{} ", s.name)).expect("row present"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}
