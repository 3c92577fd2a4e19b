//! Plans per mode: standard/enhanced x public/private x new/existing VNet, and the VM.

mod plan_support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use plan_support::*;
use polaris_core::plan::build::PlanError;
use polaris_core::plan::{
    ComputeKind, Mode, OutputSource, Ownership, StepKind, VerifyCheck, build_plan,
};
use polaris_core::saga;
use polaris_core::spec::policy::cce_policy_hostdata;
use serde_json::{Value, json};

fn standard(extra: Value) -> Value {
    let mut spec = with(json!({ "enable_key_vault": false }));
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

fn private_new() -> Value {
    with(json!({
        "networking_type": "Private",
        "polaris_proxy_source_ranges": ["203.0.113.0/24"]
    }))
}

fn private_existing() -> Value {
    with(json!({
        "networking_type": "Private",
        "new_vnet_enabled": false,
        "vnet_name": "corp-vnet",
        "vnet_resource_group": "network-rg",
        "subnet_name": "aci-subnet"
    }))
}

fn container(group: &Value, name: &str) -> Value {
    let containers = group["properties"]["containers"].as_array().unwrap();
    containers.iter().find(|c| c["name"] == name).cloned().unwrap_or(Value::Null)
}

fn env_of(container: &Value) -> Vec<(String, String)> {
    let list = container["properties"]["environmentVariables"].as_array().unwrap();
    list.iter()
        .map(|e| {
            (e["name"].as_str().unwrap().to_owned(), e["value"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

fn env_value(container: &Value, name: &str) -> Option<String> {
    env_of(container).into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

fn output(plan: &polaris_core::plan::Plan, name: &str) -> OutputSource {
    let binding = plan.outputs.iter().find(|o| o.name == name);
    binding.unwrap_or_else(|| panic!("no output `{name}`")).source.clone()
}

#[test]
fn standard_public_is_group_and_health_check_only() {
    let plan = plan(&standard(json!({})));
    assert_eq!(plan.mode, Mode::Standard);
    assert_eq!(names(&plan), ["resource_group", "container_group", "health_check"]);
    assert_eq!(deps(&plan, "container_group"), ["resource_group"]);
    assert_eq!(deps(&plan, "health_check"), ["container_group"]);

    let group = body(&plan, "container_group");
    assert_eq!(group["properties"]["sku"], "Standard");
    assert!(group.get("identity").is_none());
    assert!(container(group, "skr-sidecar-container").is_null());
    let proxy = container(group, "polaris-secure-proxy");
    assert_eq!(env_value(&proxy, "POLARIS_CONTAINER_KEY_TYPE").as_deref(), Some("ephemeral"));
    assert_eq!(env_value(&proxy, "POLARIS_CONTAINER_AZURE_SKR_KID"), None);
}

#[test]
fn only_the_proxy_port_is_exposed() {
    for spec in [standard(json!({})), minimal(), private_new()] {
        let plan = plan(&spec);
        let ports = &body(&plan, "container_group")["properties"]["ipAddress"]["ports"];
        assert_eq!(ports, &json!([{ "port": 3000, "protocol": "TCP" }]));
    }
}

#[test]
fn the_proxy_listens_where_it_is_exposed() {
    let plan = plan(&with(json!({ "polaris_proxy_port": 3443, "workload_port": 9000 })));
    let group = body(&plan, "container_group");
    let proxy = container(group, "polaris-secure-proxy");
    assert_eq!(env_value(&proxy, "PORT").as_deref(), Some("3443"));
    assert_eq!(
        env_value(&proxy, "POLARIS_CONTAINER_WORKLOAD_BASE_URL").as_deref(),
        Some("http://localhost:9000")
    );
    assert_eq!(group["properties"]["ipAddress"]["ports"][0]["port"], 3443);
    let StepKind::HealthCheck(check) = &step(&plan, "health_check").kind else { panic!() };
    assert_eq!(check.port, 3443);
}

#[test]
fn proxy_flags_are_strings() {
    let plan = plan(&with(json!({
        "polaris_proxy_enable_input_encryption": true,
        "polaris_proxy_enable_cors": true,
        "polaris_proxy_enable_logging": false
    })));
    let proxy = container(body(&plan, "container_group"), "polaris-secure-proxy");
    let flags: Vec<(String, String)> = env_of(&proxy)
        .into_iter()
        .filter(|(n, _)| n.starts_with("POLARIS_CONTAINER_ENABLE"))
        .collect();
    let expect = |n: &str, v: &str| (format!("POLARIS_CONTAINER_ENABLE_{n}"), v.to_owned());
    assert_eq!(
        flags,
        [
            expect("INPUT_ENCRYPTION", "true"),
            expect("OUTPUT_ENCRYPTION", "false"),
            expect("CORS", "true"),
            expect("LOGGING", "false"),
        ]
    );
}

#[test]
fn enhanced_public_has_the_key_chain_and_a_confidential_group() {
    let plan = plan(&minimal());
    assert_eq!(plan.mode, Mode::Enhanced);
    assert_eq!(
        names(&plan),
        [
            "resource_group",
            "identity",
            "vault",
            "key",
            "role_assignment",
            "container_group",
            "health_check"
        ]
    );
    assert_eq!(deps(&plan, "identity"), ["resource_group"]);
    assert_eq!(deps(&plan, "vault"), ["resource_group"]);
    assert_eq!(deps(&plan, "key"), ["vault"]);
    assert_eq!(deps(&plan, "role_assignment"), ["identity", "key"]);
    assert_eq!(
        deps(&plan, "container_group"),
        ["resource_group", "identity", "key", "role_assignment"]
    );

    let group = body(&plan, "container_group");
    assert_eq!(group["properties"]["sku"], "Confidential");
    let identity_id = id(&plan, "identity").to_owned();
    assert_eq!(group["identity"]["type"], "UserAssigned");
    assert_eq!(group["identity"]["userAssignedIdentities"], json!({ identity_id: {} }));

    let proxy = container(group, "polaris-secure-proxy");
    let vault = match &step(&plan, "vault").kind {
        StepKind::Vault(v) => v.name.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(env_value(&proxy, "POLARIS_CONTAINER_KEY_TYPE").as_deref(), Some("azure-skr"));
    assert_eq!(
        env_value(&proxy, "POLARIS_CONTAINER_AZURE_SKR_MAA_ENDPOINT").as_deref(),
        Some("sharedweu.weu.attest.azure.net")
    );
    assert_eq!(
        env_value(&proxy, "POLARIS_CONTAINER_AZURE_SKR_AKV_ENDPOINT"),
        Some(format!("{vault}.vault.azure.net"))
    );
    assert_eq!(
        env_value(&proxy, "POLARIS_CONTAINER_AZURE_SKR_KID").as_deref(),
        Some("polaris-test-key")
    );
    assert_eq!(
        env_value(&proxy, "POLARIS_CONTAINER_AZURE_SKR_KEY_RELEASE_ENDPOINT").as_deref(),
        Some("http://localhost:8080")
    );

    let sidecar = container(group, "skr-sidecar-container");
    assert_eq!(sidecar["properties"]["image"], "mcr.microsoft.com/aci/skr:2.7");
    assert_eq!(sidecar["properties"]["command"], json!(["/skr.sh"]));
    assert_eq!(sidecar["properties"]["ports"], json!([{ "port": 8080, "protocol": "TCP" }]));
    assert_eq!(
        sidecar["properties"]["resources"]["requests"],
        json!({ "cpu": 1, "memoryInGB": 1 })
    );

    let StepKind::HealthCheck(check) = &step(&plan, "health_check").kind else { panic!() };
    assert_eq!(check.host, "${container_group.ip}");
    assert_eq!(check.health_path, "/polaris-container/health");
    assert_eq!(check.key_release_path.as_deref(), Some("/polaris-container/publicKey"));
}

#[test]
fn public_groups_get_no_vnet_and_a_warning_about_it() {
    let plan = plan(&minimal());
    assert!(plan.step(&"vnet".into()).is_none() && plan.step(&"subnet".into()).is_none());
    assert!(body(&plan, "container_group")["properties"].get("subnetIds").is_none());
    assert!(plan.warnings.iter().any(|w| w.contains("new_vnet_enabled has no effect")));

    let quiet = plan_support::plan(&with(json!({ "new_vnet_enabled": false })));
    assert!(!quiet.warnings.iter().any(|w| w.contains("new_vnet_enabled")));
}

#[test]
fn private_new_vnet_builds_nsg_vnet_and_a_delegated_subnet() {
    let plan = plan(&private_new());
    assert_eq!(deps(&plan, "nsg"), ["resource_group"]);
    assert_eq!(deps(&plan, "vnet"), ["resource_group"]);
    assert_eq!(deps(&plan, "subnet"), ["vnet", "nsg"]);
    assert!(deps(&plan, "container_group").contains(&"subnet".to_owned()));

    let subnet = body(&plan, "subnet");
    assert_eq!(subnet["properties"]["addressPrefix"], "10.0.1.0/24");
    assert_eq!(
        subnet["properties"]["delegations"],
        json!([{
            "name": "aciDelegation",
            "properties": { "serviceName": "Microsoft.ContainerInstance/containerGroups" }
        }])
    );
    assert_eq!(subnet["properties"]["networkSecurityGroup"]["id"], id(&plan, "nsg"));
    assert!(id(&plan, "subnet").ends_with("/virtualNetworks/polaris-test-vnet/subnets/default"));
    let StepKind::Arm(subnet_step) = &step(&plan, "subnet").kind else { panic!() };
    assert_eq!(subnet_step.ownership, Ownership::Parent("vnet".into()));

    let group = body(&plan, "container_group");
    assert_eq!(group["properties"]["ipAddress"]["type"], "Private");
    assert!(group["properties"]["ipAddress"].get("dnsNameLabel").is_none());
    assert_eq!(group["properties"]["subnetIds"], json!([{ "id": id(&plan, "subnet") }]));
}

#[test]
fn nsg_allows_the_proxy_from_the_ranges_and_denies_everything_else() {
    let plan = plan(&private_new());
    let rules = body(&plan, "nsg")["properties"]["securityRules"].as_array().unwrap().clone();
    assert_eq!(rules.len(), 2);
    let allow = &rules[0]["properties"];
    assert_eq!(allow["access"], "Allow");
    assert_eq!(allow["priority"], 100);
    assert_eq!(allow["protocol"], "Tcp");
    assert_eq!(allow["destinationPortRange"], "3000");
    assert_eq!(allow["sourceAddressPrefixes"], json!(["203.0.113.0/24"]));
    let deny = &rules[1]["properties"];
    assert_eq!(deny["access"], "Deny");
    assert_eq!(deny["priority"], 4000);
    assert_eq!(deny["direction"], "Inbound");
    assert_eq!(
        deny["destinationPortRange"], "*",
        "deny must cover every port, not just the proxy's"
    );
    assert_eq!(deny["protocol"], "*");
}

#[test]
fn subnet_name_is_honoured() {
    let mut spec = private_new();
    spec["subnet_name"] = json!("inference");
    let plan = plan(&spec);
    assert!(id(&plan, "subnet").ends_with("/subnets/inference"));
}

#[test]
fn network_and_key_chains_do_not_wait_for_each_other() {
    let plan = plan(&private_new());
    for net in ["nsg", "vnet", "subnet"] {
        for sec in ["identity", "vault", "key", "role_assignment"] {
            assert!(!depends_transitively(&plan, net, sec), "{net} waits for {sec}");
            assert!(!depends_transitively(&plan, sec, net), "{sec} waits for {net}");
        }
    }
}

#[test]
fn private_existing_vnet_verifies_the_delegation_b09() {
    let plan = plan(&private_existing());
    assert!(plan.step(&"vnet".into()).is_none() && plan.step(&"nsg".into()).is_none());
    let StepKind::Verify(verify) = &step(&plan, "subnet").kind else { panic!("not a verify step") };
    assert_eq!(
        verify.id,
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/network-rg/providers/\
         Microsoft.Network/virtualNetworks/corp-vnet/subnets/aci-subnet"
    );
    assert_eq!(
        verify.check,
        VerifyCheck::SubnetDelegatedTo {
            service: "Microsoft.ContainerInstance/containerGroups".into()
        }
    );
    assert!(deps(&plan, "subnet").is_empty(), "verification runs before anything is created");
    assert!(deps(&plan, "container_group").contains(&"subnet".to_owned()));
    let group = body(&plan, "container_group");
    assert_eq!(group["properties"]["subnetIds"][0]["id"], verify.id);
}

#[test]
fn private_existing_vnet_warns_when_ranges_cannot_be_enforced() {
    let mut spec = private_existing();
    spec["polaris_proxy_source_ranges"] = json!(["10.0.0.0/8"]);
    let plan = plan(&spec);
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("not enforced on the existing subnet `aci-subnet`"))
    );
}

#[test]
fn standard_private_new_and_existing() {
    let mut new = private_new();
    new["enable_key_vault"] = json!(false);
    let plan = plan(&new);
    assert_eq!(
        names(&plan),
        ["resource_group", "nsg", "vnet", "subnet", "container_group", "health_check"]
    );
    assert_eq!(deps(&plan, "container_group"), ["resource_group", "subnet"]);

    let mut existing = private_existing();
    existing["enable_key_vault"] = json!(false);
    let plan = plan_support::plan(&existing);
    assert_eq!(names(&plan), ["resource_group", "subnet", "container_group", "health_check"]);
}

#[test]
fn vault_sends_purge_protection_only_when_asked_b01() {
    let plain = plan(&minimal());
    let properties = &body(&plain, "vault")["properties"];
    assert!(properties.get("enablePurgeProtection").is_none());
    assert_eq!(properties["enableSoftDelete"], true);
    assert_eq!(properties["enableRbacAuthorization"], true);
    assert_eq!(properties["softDeleteRetentionInDays"], 90);
    assert_eq!(properties["tenantId"], TENANT);
    assert_eq!(properties["sku"], json!({ "family": "A", "name": "premium" }));
    assert_eq!(properties["accessPolicies"], json!([]));

    let protected = plan_support::plan(&with(json!({
        "key_vault_purge_protection": true,
        "key_vault_soft_delete_retention_days": 30
    })));
    let properties = &body(&protected, "vault")["properties"];
    assert_eq!(properties["enablePurgeProtection"], true);
    assert_eq!(properties["softDeleteRetentionInDays"], 30);
    let StepKind::Vault(vault) = &step(&protected, "vault").kind else { panic!() };
    assert!(vault.purge_protection);
}

#[test]
fn no_plan_ever_sends_purge_protection_false() {
    for spec in [minimal(), private_new(), with(json!({ "key_vault_purge_protection": false }))] {
        let text = serde_json::to_string(&plan(&spec)).unwrap();
        assert!(!text.contains(r#""enablePurgeProtection":false"#));
    }
}

#[test]
fn vault_name_is_short_global_and_per_deployment_b01() {
    let spec = with(json!({ "name": "a-rather-long-deployment-name" }));
    let plan = plan(&spec);
    let StepKind::Vault(vault) = &step(&plan, "vault").kind else { panic!() };
    assert!(
        vault.name.len() <= 24 && vault.name.starts_with("a-rather-long-dep"),
        "{}",
        vault.name
    );
    let other = PlanCtx::with_id("polaris-test-ffffffff");
    let plan2 = build_plan(&parse(&spec), &other).unwrap();
    let StepKind::Vault(vault2) = &step(&plan2, "vault").kind else { panic!() };
    assert_ne!(vault.name, vault2.name);
}

struct PlanCtx;
impl PlanCtx {
    fn with_id(id: &str) -> polaris_core::plan::build::PlanContext {
        polaris_core::plan::build::PlanContext {
            deployment_id: polaris_core::ids::DeploymentId::new(id).unwrap(),
            tenant_id: TENANT.into(),
        }
    }
}

#[test]
fn key_is_an_exportable_hsm_key_with_the_exact_policy_bytes_b03() {
    let plan = plan(&minimal());
    let StepKind::Key(key) = &step(&plan, "key").kind else { panic!() };
    let properties = &key.arm.body["properties"];
    assert_eq!(properties["kty"], "RSA-HSM");
    assert_eq!(properties["keySize"], 4096);
    assert_eq!(properties["attributes"]["exportable"], true);
    assert_eq!(properties["release_policy"]["contentType"], "application/json; charset=utf-8");

    let data = properties["release_policy"]["data"].as_str().unwrap();
    let bytes = URL_SAFE_NO_PAD.decode(data).unwrap();
    assert_eq!(String::from_utf8(bytes).unwrap(), key.release_policy_json);
    let policy: Value = serde_json::from_str(&key.release_policy_json).unwrap();
    assert_eq!(policy["version"], "1.0.0");
    assert!(!policy["anyOf"].as_array().unwrap().is_empty());
    assert_eq!(key.name, "polaris-test-key");
    assert_eq!(
        properties["rotationPolicy"]["lifetimeActions"][0]["trigger"]["timeAfterCreate"],
        "P90D"
    );

    let no_rotation = plan_support::plan(&with(json!({ "key_rotation_days": 0 })));
    assert!(body(&no_rotation, "key")["properties"].get("rotationPolicy").is_none());
}

fn pinned_with_cce(cce: &str) -> Value {
    with(json!({
        "cce_policy": cce,
        "workload_image": format!("myreg.azurecr.io/app@{DIGEST}"),
        "polaris_proxy_image_version": DIGEST,
        "skr_sidecar_image": format!("mcr.microsoft.com/aci/skr:2.7@{DIGEST}")
    }))
}

#[test]
fn cce_policy_reaches_the_group_and_binds_the_key_b05() {
    let plan = plan(&pinned_with_cce(ALLOW_ALL_CCE));
    let group = body(&plan, "container_group");
    assert_eq!(group["properties"]["confidentialComputeProperties"]["ccePolicy"], ALLOW_ALL_CCE);
    let proxy = container(group, "polaris-secure-proxy");
    assert_eq!(
        proxy["properties"]["image"],
        format!("fr0ntierxpublic.azurecr.io/polaris-proxy@{DIGEST}")
    );

    let StepKind::Key(key) = &step(&plan, "key").kind else { panic!() };
    let hostdata = cce_policy_hostdata(ALLOW_ALL_CCE).unwrap();
    assert!(
        key.release_policy_json
            .contains(&format!(r#"{{"claim":"x-ms-sevsnpvm-hostdata","equals":"{hostdata}"}}"#))
    );
    assert!(key.release_policy_json.contains(r#"{"claim":"x-ms-sevsnpvm-vmpl","equals":0}"#));
    assert!(!plan.warnings.iter().any(|w| w.contains("no cce_policy")));
}

#[test]
fn a_new_cce_policy_changes_the_release_policy() {
    use base64::engine::general_purpose::STANDARD;
    let other = STANDARD.encode(
        br#"package policy
api_version := "0.10.0""#,
    );
    let key_of = |cce: &str| {
        let plan = plan(&pinned_with_cce(cce));
        let StepKind::Key(key) = &step(&plan, "key").kind else { panic!() };
        key.release_policy_json.clone()
    };
    assert_ne!(key_of(ALLOW_ALL_CCE), key_of(&other));
}

#[test]
fn without_a_cce_policy_the_plan_warns_the_key_is_unbound() {
    let plan = plan(&minimal());
    assert!(
        body(&plan, "container_group")["properties"].get("confidentialComputeProperties").is_none()
    );
    assert!(plan.warnings.iter().any(|w| w.contains("not bound to these containers")));
}

#[test]
fn role_assignment_grants_key_release_on_the_key_only() {
    let plan = plan(&minimal());
    let StepKind::Arm(role) = &step(&plan, "role_assignment").kind else { panic!() };
    let key_id = id(&plan, "key");
    let prefix = format!("{key_id}/providers/Microsoft.Authorization/roleAssignments/");
    let name = role.id.strip_prefix(&prefix).expect("scoped to the key");
    let uuid = uuid::Uuid::parse_str(name).unwrap();
    assert_eq!(uuid.get_version_num(), 5);
    assert_eq!(role.ownership, Ownership::DeterministicName);
    assert_eq!(role.api_version, "2022-04-01");
    assert_eq!(
        role.body,
        json!({ "properties": {
            "roleDefinitionId": "/subscriptions/00000000-0000-0000-0000-000000000001/providers/\
                Microsoft.Authorization/roleDefinitions/08bbd89e-9f13-488c-ac41-acfcb10c90ab",
            "principalId": "${identity.principal_id}",
            "principalType": "ServicePrincipal"
        }})
    );
    assert!(role.body.get("tags").is_none());
}

#[test]
fn taggable_resources_carry_ownership_and_user_tags() {
    let mut spec = private_new();
    spec["tags"] = json!({ "team": "ml" });
    let plan = plan(&spec);
    let expected = json!({
        "polaris-deployment": "polaris-test-0a1b2c3d",
        "managed-by": "polaris-orchestrator",
        "team": "ml"
    });
    for name in ["resource_group", "nsg", "vnet", "identity", "vault", "key", "container_group"] {
        assert_eq!(body(&plan, name)["tags"], expected, "{name}");
    }
    for name in ["subnet", "role_assignment"] {
        assert!(body(&plan, name).get("tags").is_none(), "{name} takes no tags");
    }
}

#[test]
fn workload_container_mirrors_the_spec() {
    let plan = plan(&with(json!({
        "container_cpu": 1.5,
        "container_memory": 2.5,
        "workload_arguments": ["python", "-m", "server"],
        "workload_env_vars": { "B": "2", "A": "1" }
    })));
    let workload = container(body(&plan, "container_group"), "workload");
    assert_eq!(workload["properties"]["image"], "myreg.azurecr.io/app:1.0");
    assert_eq!(workload["properties"]["command"], json!(["python", "-m", "server"]));
    assert_eq!(workload["properties"]["ports"], json!([{ "port": 8000, "protocol": "TCP" }]));
    assert_eq!(
        workload["properties"]["resources"]["requests"],
        json!({ "cpu": 1.5, "memoryInGB": 2.5 })
    );
    assert_eq!(env_of(&workload), [("A".into(), "1".into()), ("B".into(), "2".into())]);

    let no_args = plan_support::plan(&minimal());
    let workload = container(body(&no_args, "container_group"), "workload");
    assert!(workload["properties"].get("command").is_none(), "empty args keep the entrypoint");
}

#[test]
fn group_basics_and_dns_label() {
    let plan = plan(&with(json!({ "dns_name_label": "my-endpoint" })));
    let group = body(&plan, "container_group");
    assert_eq!(group["location"], "westeurope");
    assert_eq!(group["properties"]["osType"], "Linux");
    assert_eq!(group["properties"]["restartPolicy"], "Always");
    assert_eq!(group["properties"]["ipAddress"]["type"], "Public");
    assert_eq!(group["properties"]["ipAddress"]["dnsNameLabel"], "my-endpoint");
    assert!(group["properties"].get("imageRegistryCredentials").is_none());

    let StepKind::Arm(arm) = &step(&plan, "container_group").kind else { panic!() };
    let pointers: Vec<(&str, &str)> =
        arm.outputs.iter().map(|o| (o.name.as_str(), o.pointer.as_str())).collect();
    assert_eq!(
        pointers,
        [("ip", "/properties/ipAddress/ip"), ("fqdn", "/properties/ipAddress/fqdn")]
    );

    let unlabelled = plan_support::plan(&minimal());
    assert!(
        body(&unlabelled, "container_group")["properties"]["ipAddress"]
            .get("dnsNameLabel")
            .is_none()
    );
}

#[test]
fn module_outputs_per_mode() {
    let enhanced = plan(&with(json!({ "dns_name_label": "my-endpoint" })));
    let names: Vec<&str> = enhanced.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "resource_group_name",
            "container_group_name",
            "container_group_ip",
            "container_group_fqdn",
            "key_vault_name",
            "key_vault_uri",
            "key_name"
        ]
    );
    assert_eq!(
        output(&enhanced, "resource_group_name"),
        OutputSource::Literal { value: "polaris-test-rg".into() }
    );
    assert_eq!(
        output(&enhanced, "container_group_name"),
        OutputSource::Literal { value: "polaris-test-aci".into() }
    );
    assert_eq!(
        output(&enhanced, "container_group_ip"),
        OutputSource::Step { step: "container_group".into(), output: "ip".into() }
    );
    assert_eq!(
        output(&enhanced, "container_group_fqdn"),
        OutputSource::Step { step: "container_group".into(), output: "fqdn".into() }
    );
    assert_eq!(
        output(&enhanced, "key_vault_uri"),
        OutputSource::Step { step: "vault".into(), output: "uri".into() }
    );
    assert_eq!(
        output(&enhanced, "key_name"),
        OutputSource::Literal { value: "polaris-test-key".into() }
    );

    let standard_private = plan_support::plan(&{
        let mut s = private_new();
        s["enable_key_vault"] = json!(false);
        s
    });
    for name in [
        "container_group_ip",
        "container_group_fqdn",
        "key_vault_name",
        "key_vault_uri",
        "key_name",
    ] {
        assert_eq!(output(&standard_private, name), OutputSource::Null, "{name}");
    }
    let unlabelled = plan_support::plan(&minimal());
    assert_eq!(output(&unlabelled, "container_group_fqdn"), OutputSource::Null);
}

#[test]
fn deadlines_are_set_per_step() {
    let plan = plan(&private_new());
    let deadline = |n: &str| step(&plan, n).deadline_secs;
    assert_eq!(deadline("vnet"), 600);
    assert_eq!(deadline("vault"), 900);
    assert_eq!(deadline("container_group"), 1200);
    assert_eq!(deadline("health_check"), 600);
    assert!(plan.steps.iter().all(|s| s.deadline_secs > 0 && s.deadline_secs < 30 * 60));
}

#[test]
fn api_versions_match_the_reference_fixtures() {
    let plan = plan(&private_new());
    let version = |n: &str| match &step(&plan, n).kind {
        StepKind::Arm(r) => r.api_version.clone(),
        StepKind::Vault(v) => v.arm.api_version.clone(),
        StepKind::Key(k) => k.arm.api_version.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(version("resource_group"), "2024-03-01");
    assert_eq!(version("vnet"), "2024-01-01");
    assert_eq!(version("identity"), "2023-01-31");
    assert_eq!(version("vault"), "2023-07-01");
    assert_eq!(version("key"), "2023-07-01");
    assert_eq!(version("container_group"), "2023-05-01");
}

#[test]
fn plans_are_deterministic() {
    for spec in [minimal(), private_new(), private_existing(), standard(json!({}))] {
        let a = serde_json::to_string(&plan(&spec)).unwrap();
        let b = serde_json::to_string(&plan(&spec)).unwrap();
        assert_eq!(a, b);
    }
}

#[test]
fn every_mode_passes_the_sagas_plan_check() {
    for spec in [minimal(), private_new(), private_existing(), standard(json!({}))] {
        let plan = plan(&spec);
        assert_topological(&plan);
        saga::check_plan(&plan).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn build_plan_revalidates_and_checks_the_tenant() {
    let mut spec = parse(&minimal());
    spec.workload_port = 3000;
    assert!(matches!(build_plan(&spec, &ctx()), Err(PlanError::InvalidSpec(_))));

    let spec = parse(&minimal());
    let mut bad = ctx();
    bad.tenant_id = "contoso".into();
    assert!(matches!(build_plan(&spec, &bad), Err(PlanError::BadTenantId(_))));
}

const SSH_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@host";

fn vm(extra: Value) -> Value {
    let mut spec = with(json!({
        "compute_target": "confidential_vm",
        "location": "eastus2",
        "vm": { "ssh_public_key": SSH_KEY }
    }));
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

#[test]
fn vm_variant_has_network_machine_and_the_same_key_chain() {
    let plan = plan(&vm(json!({})));
    assert_eq!(plan.compute, ComputeKind::ConfidentialVm);
    for name in [
        "nsg",
        "vnet",
        "subnet",
        "public_ip",
        "nic",
        "identity",
        "vault",
        "key",
        "role_assignment",
        "vm",
        "health_check",
    ] {
        step(&plan, name);
    }
    assert_eq!(deps(&plan, "nic"), ["resource_group", "subnet", "nsg", "public_ip"]);
    assert_eq!(deps(&plan, "vm"), ["resource_group", "nic", "identity", "key", "role_assignment"]);
    assert_topological(&plan);
    saga::check_plan(&plan).unwrap();

    let machine = body(&plan, "vm");
    let security = &machine["properties"]["securityProfile"];
    assert_eq!(security["securityType"], "ConfidentialVM");
    assert_eq!(security["uefiSettings"], json!({ "secureBootEnabled": true, "vTpmEnabled": true }));
    let disk = &machine["properties"]["storageProfile"]["osDisk"]["managedDisk"];
    assert_eq!(disk["securityProfile"]["securityEncryptionType"], "VMGuestStateOnly");
    assert_eq!(machine["properties"]["hardwareProfile"]["vmSize"], "Standard_NCC40ads_H100_v5");
    assert_eq!(
        machine["properties"]["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"],
        true
    );
    assert!(
        machine["properties"]["storageProfile"]["imageReference"]["communityGalleryImageId"]
            .as_str()
            .unwrap()
            .starts_with("/communityGalleries/polaris-")
    );

    let StepKind::Key(key) = &step(&plan, "key").kind else { panic!() };
    assert!(key.release_policy_json.contains("x-ms-isolation-tee.x-ms-compliance-status"));
    assert!(key.release_policy_json.contains("azure-compliant-cvm"));
    assert!(key.release_policy_json.contains("https://sharedeus2.eus2.attest.azure.net"));

    let StepKind::HealthCheck(check) = &step(&plan, "health_check").kind else { panic!() };
    assert_eq!(check.host, "${public_ip.ip}");
    assert_eq!(
        output(&plan, "virtual_machine_public_ip"),
        OutputSource::Step { step: "public_ip".into(), output: "ip".into() }
    );
}

#[test]
fn vm_nic_never_sits_on_a_delegated_subnet_b09() {
    let plan = plan(&vm(json!({})));
    assert!(body(&plan, "subnet")["properties"].get("delegations").is_none());
    let nic = body(&plan, "nic");
    assert_eq!(
        nic["properties"]["ipConfigurations"][0]["properties"]["subnet"]["id"],
        id(&plan, "subnet")
    );

    let existing = plan_support::plan(&vm(json!({
        "new_vnet_enabled": false,
        "vnet_name": "corp-vnet",
        "vnet_resource_group": "network-rg"
    })));
    let StepKind::Verify(verify) = &step(&existing, "subnet").kind else { panic!() };
    assert_eq!(verify.check, VerifyCheck::SubnetUndelegated);
    assert!(existing.step(&"nsg".into()).is_some(), "the NIC still gets an NSG");
}

#[test]
fn vm_nsg_opens_ssh_only_when_asked() {
    let rules = |plan: &polaris_core::plan::Plan| -> Vec<String> {
        body(plan, "nsg")["properties"]["securityRules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let closed = plan(&vm(json!({})));
    assert_eq!(rules(&closed), ["allow-polaris-proxy", "deny-all-inbound"]);

    let open = plan_support::plan(&vm(json!({
        "vm": { "ssh_public_key": SSH_KEY, "ssh_source_ranges": ["203.0.113.7/32"] }
    })));
    assert_eq!(rules(&open), ["allow-polaris-proxy", "allow-ssh", "deny-all-inbound"]);
    let ssh = &body(&open, "nsg")["properties"]["securityRules"][1]["properties"];
    assert_eq!(ssh["destinationPortRange"], "22");
    assert_eq!(ssh["sourceAddressPrefixes"], json!(["203.0.113.7/32"]));
}

#[test]
fn vm_cloud_init_publishes_only_the_proxy_and_sets_its_port() {
    use base64::engine::general_purpose::STANDARD;
    let plan = plan(&vm(json!({ "workload_env_vars": { "MODEL": "llama" } })));
    let data =
        body(&plan, "vm")["properties"]["osProfile"]["customData"].as_str().unwrap().to_owned();
    let text = String::from_utf8(STANDARD.decode(data).unwrap()).unwrap();
    let yaml = text.strip_prefix("#cloud-config\n").expect("cloud-config header");
    let config: Value = serde_json::from_str(yaml.trim()).unwrap();
    let commands = config["runcmd"].as_array().unwrap();
    let published: Vec<&Value> =
        commands.iter().filter(|c| c.as_array().unwrap().contains(&json!("-p"))).collect();
    assert_eq!(published.len(), 1);
    let proxy = published[0].as_array().unwrap();
    assert!(proxy.contains(&json!("3000:3000")) && proxy.contains(&json!("PORT=3000")));
    assert!(proxy.contains(&json!("POLARIS_CONTAINER_WORKLOAD_BASE_URL=http://workload:8000")));
    assert!(commands.iter().any(|c| c.as_array().unwrap().contains(&json!("MODEL=llama"))));
}

#[test]
fn private_vm_probes_the_nic_address() {
    let plan = plan(&vm(json!({ "networking_type": "Private" })));
    assert!(plan.step(&"public_ip".into()).is_none());
    let StepKind::HealthCheck(check) = &step(&plan, "health_check").kind else { panic!() };
    assert_eq!(check.host, "${nic.private_ip}");
    assert_eq!(output(&plan, "virtual_machine_public_ip"), OutputSource::Null);
}
