//! Property tests over random valid specs: every plan is ordered, acyclic, deterministic,
//! passes the saga's plan check and leaks no secret.

mod plan_support;

use plan_support::*;
use polaris_core::plan::{StepKind, build_plan};
use polaris_core::saga;
use polaris_core::spec::regions::REGIONS;
use proptest::prelude::*;
use serde_json::{Value, json};

const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host";
const SECRET_MARK: &str = "s3cr3t-value-";

/// Choices that shape a spec; `spec_json` turns them into a valid spec.
#[derive(Debug, Clone)]
struct Choices {
    name: String,
    region: usize,
    enhanced: bool,
    private: bool,
    new_vnet: bool,
    vm: bool,
    dns: bool,
    restricted: bool,
    ports: (u16, u16),
    cpu_tenths: u32,
    memory_tenths: u32,
    env: Vec<(String, String, bool)>,
    args: Vec<String>,
    registry: bool,
    cce: bool,
    ssh: bool,
}

fn choices() -> impl Strategy<Value = Choices> {
    let flags =
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>());
    let more = (any::<bool>(), any::<bool>(), any::<bool>());
    let env =
        proptest::collection::vec(("[A-Z_][A-Z0-9_]{0,8}", "[a-z0-9 ]{0,8}", any::<bool>()), 0..4);
    let args = proptest::collection::vec("[a-z-]{1,6}", 0..3);
    (
        "[A-Za-z][A-Za-z0-9 _-]{0,30}",
        0..REGIONS.len(),
        flags,
        more,
        (1u16..=65535, 1u16..=65535),
        (1u32..=20, 1u32..=140),
        env,
        args,
    )
        .prop_map(|(name, region, f, m, ports, (cpu, mem), env, args)| Choices {
            name,
            region,
            enhanced: f.0,
            private: f.1,
            new_vnet: f.2,
            vm: f.3,
            dns: f.4,
            restricted: f.5,
            ports,
            cpu_tenths: cpu,
            memory_tenths: mem,
            env,
            args,
            registry: m.0,
            cce: m.1,
            ssh: m.2,
        })
}

/// Adjusts the choices into a spec the rules accept; the adjustments are the rules.
fn spec_json(c: &Choices) -> Value {
    let region = &REGIONS[c.region];
    let enhanced = c.enhanced;
    let (mut proxy, mut workload) = c.ports;
    if enhanced && proxy == 8080 {
        proxy = 8081;
    }
    if workload == proxy || (enhanced && workload == 8080) {
        workload = if proxy == 9000 { 9001 } else { 9000 };
    }

    let mut spec = json!({
        "name": c.name,
        "location": region.display_name,
        "subscription_id": SUBSCRIPTION,
        "enable_key_vault": enhanced,
        "networking_type": if c.private { "Private" } else { "Public" },
        "new_vnet_enabled": c.new_vnet,
        "polaris_proxy_port": proxy,
        "workload_port": workload,
        "workload_arguments": c.args,
        "workload_image": "myreg.azurecr.io/team/app:1.0",
        "tags": { "suite": "proptest" }
    });
    if enhanced && region.shared_maa_host.is_none() {
        spec["maa_endpoint"] = json!("custom.attest.azure.net");
    }
    if !c.new_vnet && (c.private || c.vm) {
        spec["vnet_name"] = json!("corp-vnet");
        spec["vnet_resource_group"] = json!("network-rg");
    }
    if c.dns && !c.private {
        spec["dns_name_label"] = json!("endpoint-label");
    }
    if c.restricted && (c.private || c.vm) {
        spec["polaris_proxy_source_ranges"] = json!(["203.0.113.0/24", "198.51.100.7"]);
    }

    let helpers = if enhanced { 2 } else { 1 };
    spec["container_cpu"] = json!(f64::from(c.cpu_tenths.min(10 * (4 - helpers))) / 10.0);
    spec["container_memory"] = json!(f64::from(c.memory_tenths.min(10 * (16 - helpers))) / 10.0);

    let mut env = serde_json::Map::new();
    for (i, (name, value, secret)) in c.env.iter().enumerate() {
        let value = if *secret && !c.vm {
            json!({ "value": format!("{SECRET_MARK}{i}"), "secret": true })
        } else {
            json!(value)
        };
        env.insert(name.clone(), value);
    }
    spec["workload_env_vars"] = Value::Object(env);

    if c.vm {
        spec["compute_target"] = json!("confidential_vm");
        let ranges = if c.ssh { json!(["203.0.113.9/32"]) } else { json!([]) };
        spec["vm"] = json!({ "ssh_public_key": SSH_KEY, "ssh_source_ranges": ranges });
    } else if c.registry {
        spec["registry_login_server"] = json!("myreg.azurecr.io");
        spec["registry_username"] = json!("puller");
        spec["registry_password"] = json!(format!("{SECRET_MARK}registry"));
    }
    if c.cce && enhanced && !c.vm {
        spec["cce_policy"] = json!(ALLOW_ALL_CCE);
        spec["workload_image"] = json!(format!("myreg.azurecr.io/team/app@{DIGEST}"));
        spec["polaris_proxy_image_version"] = json!(DIGEST);
        spec["skr_sidecar_image"] = json!(format!("mcr.microsoft.com/aci/skr:2.7@{DIGEST}"));
    }
    spec
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_valid_spec_plans_into_an_ordered_acyclic_graph(c in choices()) {
        let spec_value = spec_json(&c);
        let spec = polaris_core::spec::parse_spec_value(&spec_value)
            .map_err(|e| TestCaseError::fail(format!("invalid spec generated:\n{e}\n{spec_value}")))
            ?;
        let plan = build_plan(&spec, &ctx()).map_err(|e| TestCaseError::fail(e.to_string()))?;

        assert_topological(&plan);
        prop_assert!(saga::check_plan(&plan).is_ok(), "{:?}", saga::check_plan(&plan));

        let again = build_plan(&spec, &ctx()).unwrap();
        prop_assert_eq!(&plan, &again);

        let text = serde_json::to_string(&plan).unwrap();
        prop_assert!(!text.contains(SECRET_MARK), "secret value in plan");
        prop_assert!(!text.contains(r#""enablePurgeProtection":false"#));

        if let Some(group) = plan.step(&"container_group".into()) {
            let StepKind::Arm(arm) = &group.kind else { panic!("group is an ARM step") };
            let ports = &arm.body["properties"]["ipAddress"]["ports"];
            let proxy_only = json!([{ "port": spec.polaris_proxy_port, "protocol": "TCP" }]);
            prop_assert_eq!(ports, &proxy_only);
        }
        for net in ["nsg", "vnet", "subnet", "public_ip", "nic"] {
            for sec in ["identity", "vault", "key", "role_assignment"] {
                prop_assert!(!depends_transitively(&plan, net, sec), "{} waits for {}", net, sec);
                prop_assert!(!depends_transitively(&plan, sec, net), "{} waits for {}", sec, net);
            }
        }
    }
}
