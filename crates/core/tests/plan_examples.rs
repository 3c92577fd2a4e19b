//! The shipped examples validate and plan.

mod plan_support;

use plan_support::*;
use polaris_core::plan::render::render_text;
use polaris_core::plan::{Mode, build_plan};
use polaris_core::spec::{EnvValue, NetworkingType, parse_spec};

fn load(name: &str) -> String {
    let path = examples_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_example_validates_and_plans() {
    for name in ["standard.json", "enhanced.json", "private.json"] {
        let spec = parse_spec(&load(name)).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        let plan = build_plan(&spec, &ctx()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_topological(&plan);
        assert!(render_text(&plan).contains("health_check"), "{name}");
    }
}

#[test]
fn enhanced_example_is_the_readme_usage_example() {
    let spec = parse_spec(&load("enhanced.json")).unwrap();
    assert_eq!(spec.name, "polaris-example");
    assert_eq!(spec.location, "westeurope");
    assert_eq!((spec.container_cpu, spec.container_memory), (2.0, 4.0));
    assert_eq!(spec.dns_name_label, "polaris-example-app");
    assert!(
        spec.polaris_proxy_enable_input_encryption && spec.polaris_proxy_enable_output_encryption
    );
    assert!(spec.polaris_proxy_enable_cors && spec.polaris_proxy_enable_logging);
    assert!(matches!(spec.workload_env_vars["API_KEY"], EnvValue::Secure(_)));
    assert_eq!(spec.workload_env_vars["DEBUG"], EnvValue::Plain("true".into()));

    let plan = build_plan(&spec, &ctx()).unwrap();
    assert_eq!(plan.mode, Mode::Enhanced);
    println!("{}", render_text(&plan));
}

#[test]
fn standard_and_private_examples_have_their_modes() {
    let standard = parse_spec(&load("standard.json")).unwrap();
    assert!(!standard.enable_key_vault);
    assert_eq!(standard.networking_type, NetworkingType::Public);

    let private = parse_spec(&load("private.json")).unwrap();
    assert_eq!(private.networking_type, NetworkingType::Private);
    assert!(private.new_vnet_enabled);
    assert_ne!(private.polaris_proxy_source_ranges, ["0.0.0.0/0"]);
}
