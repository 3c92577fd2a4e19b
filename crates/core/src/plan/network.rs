//! Network resources: NSG, VNet, subnet, public IP and NIC bodies.

use serde_json::{Value, json};

use super::arm::tcp_port;

/// Priority of the proxy allow rule; the SSH rule (VM only) follows it.
const PROXY_RULE_PRIORITY: u32 = 100;
const SSH_RULE_PRIORITY: u32 = 110;

/// Priority of the catch-all deny rule. It sits above Azure's default rules (65000+), so it
/// also shuts out `AllowVnetInBound`: peers in the VNet reach nothing but the proxy.
const DENY_ALL_PRIORITY: u32 = 4000;

/// The delegation an ACI subnet must carry (B09).
pub const ACI_DELEGATION_SERVICE: &str = "Microsoft.ContainerInstance/containerGroups";
pub const ACI_DELEGATION_NAME: &str = "aciDelegation";

/// NSG rules: allow TCP to the proxy port from the given sources, optionally SSH, and deny
/// every other inbound flow. The module denied only the proxy port, leaving the rest of the
/// VNet-facing ports open.
pub fn nsg_body(
    location: &str,
    tags: &Value,
    proxy_port: u16,
    proxy_sources: &[String],
    ssh_sources: &[String],
) -> Value {
    let mut rules =
        vec![allow_rule("allow-polaris-proxy", PROXY_RULE_PRIORITY, proxy_port, proxy_sources)];
    if !ssh_sources.is_empty() {
        rules.push(allow_rule("allow-ssh", SSH_RULE_PRIORITY, 22, ssh_sources));
    }
    rules.push(json!({
        "name": "deny-all-inbound",
        "properties": {
            "protocol": "*",
            "sourceAddressPrefix": "*",
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": "*",
            "access": "Deny",
            "priority": DENY_ALL_PRIORITY,
            "direction": "Inbound"
        }
    }));

    json!({
        "location": location,
        "tags": tags,
        "properties": { "securityRules": rules }
    })
}

fn allow_rule(name: &str, priority: u32, port: u16, sources: &[String]) -> Value {
    json!({
        "name": name,
        "properties": {
            "protocol": "Tcp",
            "sourceAddressPrefixes": sources,
            "sourcePortRange": "*",
            "destinationAddressPrefix": "*",
            "destinationPortRange": port.to_string(),
            "access": "Allow",
            "priority": priority,
            "direction": "Inbound"
        }
    })
}

/// The VNet without inline subnets: the subnet is its own step so that the container group
/// can depend on it.
pub fn vnet_body(location: &str, tags: &Value, address_space: &[String]) -> Value {
    json!({
        "location": location,
        "tags": tags,
        "properties": { "addressSpace": { "addressPrefixes": address_space } }
    })
}

/// A subnet with the NSG attached, delegated to ACI when `aci` is true. Subnets take no
/// tags.
pub fn subnet_body(prefix: &str, nsg_id: &str, aci: bool) -> Value {
    let mut properties = json!({
        "addressPrefix": prefix,
        "networkSecurityGroup": { "id": nsg_id }
    });
    if aci {
        properties["delegations"] = json!([{
            "name": ACI_DELEGATION_NAME,
            "properties": { "serviceName": ACI_DELEGATION_SERVICE }
        }]);
    }
    json!({ "properties": properties })
}

/// A static Standard public IP for the VM, with the DNS label when one is given.
pub fn public_ip_body(location: &str, tags: &Value, dns_label: &str, zone: Option<&str>) -> Value {
    let mut body = json!({
        "location": location,
        "tags": tags,
        "sku": { "name": "Standard" },
        "properties": {
            "publicIPAllocationMethod": "Static",
            "publicIPAddressVersion": "IPv4"
        }
    });
    if !dns_label.is_empty() {
        body["properties"]["dnsSettings"] = json!({ "domainNameLabel": dns_label });
    }
    if let Some(zone) = zone {
        body["zones"] = json!([zone]);
    }
    body
}

/// The VM's NIC: one dynamic private IP on an undelegated subnet (B09), the optional public
/// IP, and the NSG.
pub fn nic_body(
    location: &str,
    tags: &Value,
    subnet_id: &str,
    public_ip_id: Option<&str>,
    nsg_id: &str,
) -> Value {
    let mut ip_config = json!({
        "privateIPAllocationMethod": "Dynamic",
        "subnet": { "id": subnet_id }
    });
    if let Some(public_ip_id) = public_ip_id {
        ip_config["publicIPAddress"] = json!({ "id": public_ip_id });
    }
    json!({
        "location": location,
        "tags": tags,
        "properties": {
            "ipConfigurations": [{ "name": "ipconfig1", "properties": ip_config }],
            "networkSecurityGroup": { "id": nsg_id }
        }
    })
}

/// Ports exposed by the group's IP: only the proxy's, so nothing bypasses it (the module
/// exposed the workload and sidecar ports too).
pub fn exposed_ports(proxy_port: u16) -> Value {
    json!([tcp_port(proxy_port)])
}
