//! Warnings a user sees before deploying.

use polaris_core::ids::DeploymentId;
use polaris_core::plan::build::{PlanContext, build_plan};
use polaris_core::spec::parse_spec_value;

fn plan_warnings(name: &str) -> Vec<String> {
    let mut spec: serde_json::Value =
        serde_json::from_str(include_str!("../../../examples/standard.json")).unwrap();
    spec["name"] = serde_json::json!(name);
    let spec = parse_spec_value(&spec).unwrap();
    let ctx = PlanContext {
        deployment_id: DeploymentId::new("demo-00000001").unwrap(),
        tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
    };
    build_plan(&spec, &ctx).unwrap().warnings
}

/// Found by a first-time user: `Bad_Name!!` silently became `bad-name`.
#[test]
fn a_sanitized_name_is_announced() {
    let warnings = plan_warnings("Bad_Name!!");
    assert!(
        warnings.iter().any(|w| w.contains("`Bad_Name!!` is used as `bad-name`")),
        "{warnings:?}"
    );
    let warnings = plan_warnings("polaris-ok");
    assert!(!warnings.iter().any(|w| w.contains("is used as")), "{warnings:?}");
}
