//! Networking rules: DNS label, source ranges, VNet and subnet addressing.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use super::Checker;
use crate::spec::NetworkingType;

pub(super) fn check(c: &mut Checker<'_>) {
    check_dns_label(c);
    check_source_ranges(c);

    // A container group only joins a VNet in Private mode; a VM NIC always sits in one.
    let spec = c.spec;
    let uses_vnet = spec.networking_type == NetworkingType::Private || c.is_vm();
    if !uses_vnet {
        return;
    }
    check_subnet_name(c);
    if spec.new_vnet_enabled {
        check_new_vnet(c);
    } else {
        check_existing_vnet(c);
    }
}

fn check_dns_label(c: &mut Checker<'_>) {
    let label = c.spec.dns_name_label.clone();
    if label.is_empty() {
        return;
    }
    if c.spec.networking_type == NetworkingType::Private {
        let message = "a DNS name label needs a public IP; it has no meaning with Private";
        c.error("dns_name_label", message, "remove dns_name_label or use `Public` networking");
        return;
    }

    let valid_chars =
        label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok = (3..=63).contains(&label.len())
        && valid_chars
        && label.starts_with(|ch: char| ch.is_ascii_lowercase())
        && !label.ends_with('-');
    if !ok {
        let message = format!(
            "`{label}` must be 3-63 lower-case letters, digits and '-', start with a letter and \
             not end with '-'"
        );
        c.error("dns_name_label", message, "use a label such as `polaris-example-app`");
    }
}

fn check_source_ranges(c: &mut Checker<'_>) {
    let ranges = c.spec.polaris_proxy_source_ranges.clone();
    if ranges.is_empty() {
        let message = "is empty, so nobody could reach the proxy";
        c.error("polaris_proxy_source_ranges", message, "list at least one CIDR, e.g. 0.0.0.0/0");
        return;
    }
    for (i, range) in ranges.iter().enumerate() {
        if parse_range(range).is_none() {
            let field = format!("polaris_proxy_source_ranges[{i}]");
            let message = format!("`{range}` is not an IP address or CIDR");
            c.error(field, message, "use a CIDR such as 203.0.113.0/24");
        }
    }

    // ACI public IPs cannot carry an NSG: a restriction would be silently ignored, as it
    // was in the module.
    let open_to_all = ranges.len() == 1 && ranges[0] == "0.0.0.0/0";
    if c.spec.networking_type == NetworkingType::Public && !c.is_vm() && !open_to_all {
        let message = "restricting sources is impossible with Public networking: an ACI public IP \
                       cannot carry a network security group, so the restriction would not apply";
        let fix = "use `networking_type = \"Private\"` (an NSG then enforces the ranges), or keep \
                   [\"0.0.0.0/0\"]";
        c.error("polaris_proxy_source_ranges", message, fix);
    }
}

/// An address or CIDR as NSG rules accept them.
pub(crate) fn parse_range(range: &str) -> Option<IpNet> {
    range.parse::<IpNet>().ok().or_else(|| range.parse::<IpAddr>().ok().map(IpNet::from))
}

fn check_subnet_name(c: &mut Checker<'_>) {
    let name = c.spec.subnet_name.clone();
    if !is_network_name(&name, 80) {
        let message = format!("`{name}` is not a valid subnet name");
        let fix = "use 1-80 letters, digits, '.', '_', '-', starting with a letter or digit";
        c.error("subnet_name", message, fix);
    }
}

/// Azure network resource names: alphanumerics, '.', '_', '-'; start alphanumeric; end
/// alphanumeric or '_'.
pub(crate) fn is_network_name(name: &str, max: usize) -> bool {
    let valid_chars = name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    !name.is_empty()
        && name.len() <= max
        && valid_chars
        && name.starts_with(|ch: char| ch.is_ascii_alphanumeric())
        && name.ends_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_')
}

fn check_new_vnet(c: &mut Checker<'_>) {
    let spaces = c.spec.vnet_address_space.clone();
    if spaces.is_empty() {
        c.error("vnet_address_space", "is empty", "give at least one CIDR, e.g. 10.0.0.0/16");
    }
    let mut parsed = Vec::new();
    for (i, space) in spaces.iter().enumerate() {
        if let Some(net) = parse_cidr(c, &format!("vnet_address_space[{i}]"), space) {
            parsed.push(net);
        }
    }

    let prefix = c.spec.subnet_address_prefix.clone();
    let Some(subnet) = parse_cidr(c, "subnet_address_prefix", &prefix) else { return };
    if subnet.prefix_len() > 29 {
        let message = format!("`{prefix}` is smaller than /29, the smallest subnet Azure allows");
        c.error("subnet_address_prefix", message, "use a /29 or larger, e.g. 10.0.1.0/24");
    }
    if !parsed.is_empty() && !parsed.iter().any(|space| space.contains(&subnet)) {
        let message = format!("`{prefix}` is not inside any of vnet_address_space {spaces:?}");
        c.error("subnet_address_prefix", message, "pick a prefix inside the VNet's address space");
    }
}

/// An IPv4 CIDR whose host bits are zero (Azure rejects `10.0.1.5/24`).
fn parse_cidr(c: &mut Checker<'_>, field: &str, value: &str) -> Option<Ipv4Net> {
    let Ok(net) = value.parse::<Ipv4Net>() else {
        let message = format!("`{value}` is not an IPv4 CIDR");
        c.error(field, message, "use the form 10.0.0.0/16");
        return None;
    };
    if net.trunc() != net {
        let message = format!("`{value}` has host bits set");
        c.error(field, message, format!("use `{}`", net.trunc()));
        return None;
    }
    Some(net)
}

fn check_existing_vnet(c: &mut Checker<'_>) {
    let spec = c.spec;
    let (vnet, group) = (spec.vnet_name.clone(), spec.vnet_resource_group.clone());
    if vnet.is_empty() {
        let message = "is required when new_vnet_enabled is false";
        c.error("vnet_name", message, "name the existing VNet, or set new_vnet_enabled = true");
    } else if !is_network_name(&vnet, 64) {
        c.error("vnet_name", format!("`{vnet}` is not a valid VNet name"), "check the name");
    }

    // The module fell back to its own new resource group, which cannot hold a VNet that
    // already exists; ask for the real one.
    if group.is_empty() {
        let message = "is required when new_vnet_enabled is false";
        c.error("vnet_resource_group", message, "name the resource group of the existing VNet");
    } else if !is_resource_group_name(&group) {
        let message = format!("`{group}` is not a valid resource group name");
        c.error("vnet_resource_group", message, "check the name");
    }
}

fn is_resource_group_name(name: &str) -> bool {
    let valid_chars = name.chars().all(|ch| ch.is_alphanumeric() || "._-()".contains(ch));
    !name.is_empty() && name.len() <= 90 && valid_chars && !name.ends_with('.')
}
