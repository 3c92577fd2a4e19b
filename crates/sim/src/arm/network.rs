//! Microsoft.Network: virtual networks with subnets, network security groups with rules,
//! public IPs and NICs. Every write is an LRO tracked through `Azure-AsyncOperation`;
//! deletes answer 202 with `Location` and `Azure-AsyncOperation`.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::ids::{ResourceRef, key, types};
use super::lro::{self, OpSpec};
use super::{base_body, etag, put_status, require_location, require_parent};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::state::operations::OpKind;
use crate::state::{Resource, World};

const ACI_SERVICE: &str = "Microsoft.ContainerInstance/containerGroups";

pub(crate) fn handle(
    world: &mut World,
    ctx: &mut Ctx,
    r: &ResourceRef,
    rtype: &'static str,
) -> Result<Reply, ApiError> {
    if rtype == types::SAL_LIST {
        return service_association_links(world, r);
    }
    if r.is_collection() {
        return if ctx.is(&Method::GET) {
            Ok(super::list(world, r, rtype))
        } else {
            Err(super::resources::method_not_allowed(&ctx.req.method))
        };
    }

    match ctx.req.method.clone() {
        Method::GET => super::get(world, r, rtype),
        Method::PUT => put(world, ctx, r, rtype),
        Method::DELETE => delete(world, ctx, r, rtype),
        other => Err(super::resources::method_not_allowed(&other)),
    }
}

fn put(
    world: &mut World,
    ctx: &mut Ctx,
    r: &ResourceRef,
    rtype: &'static str,
) -> Result<Reply, ApiError> {
    let request = ctx.req.json_object()?;
    let id = r.id();
    let existing = world.get(&id).cloned();
    let is_child = rtype == types::SUBNET || rtype == types::NSG_RULE;

    let location = if is_child {
        require_parent(world, r)?.location().unwrap_or_default().to_string()
    } else {
        require_location(&request)?
    };

    let mut body = base_body(r, rtype, &request);
    body["etag"] = json!(etag(world));
    match rtype {
        types::VNET => put_vnet(world, &id, &request, &mut body)?,
        types::SUBNET => body = subnet_body(world, &id, &request, existing.as_ref())?,
        types::NSG => put_nsg(world, &id, &request, &mut body),
        types::NSG_RULE => body["type"] = json!(rtype),
        types::PUBLIC_IP => public_ip(world, &location, &request, &mut body),
        types::NIC => nic(world, &id, &mut body)?,
        _ => {}
    }
    keep_generated(&mut body, existing.as_ref());
    body["properties"]["provisioningState"] = json!("Updating");

    let mut resource = Resource::new(&id, rtype, body);
    if is_child {
        resource.parent = Some(key(&r.id_at(r.names.len() - 1)));
    }
    world.insert(resource);

    let op_key = format!("{rtype}:PUT");
    let spec = OpSpec {
        kind: OpKind::Provision,
        target: key(&id),
        op_key: &op_key,
        namespace: "Microsoft.Network",
        location: &location,
        sub: &r.sub,
    };
    let started = lro::start(world, ctx, spec);
    let rendered = super::render(world, world.get(&id).expect("just inserted"));
    Ok(lro::headers(Reply::json(put_status(existing.is_some()), rendered), &started, false))
}

/// Values Azure generates once and keeps across updates.
fn keep_generated(body: &mut Value, existing: Option<&Resource>) {
    let Some(existing) = existing else { return };
    for field in ["resourceGuid", "ipAddress"] {
        if let Some(v) = existing.body.pointer(&format!("/properties/{field}")) {
            body["properties"][field] = v.clone();
        }
    }
}

fn put_vnet(
    world: &mut World,
    vnet_id: &str,
    request: &Value,
    body: &mut Value,
) -> Result<(), ApiError> {
    let wanted: Vec<Value> = request
        .pointer("/properties/subnets")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let wanted_ids: Vec<String> = wanted
        .iter()
        .filter_map(|s| s.get("name").and_then(Value::as_str))
        .map(|name| format!("{vnet_id}/subnets/{name}"))
        .collect();

    // A PUT without a subnet deletes it, which fails while the subnet is in use.
    let current: Vec<String> =
        world.children(vnet_id, types::SUBNET).iter().map(|s| s.id.clone()).collect();
    for old in &current {
        if !wanted_ids.iter().any(|w| w.eq_ignore_ascii_case(old)) {
            ensure_unused(world, old, "InUseSubnetCannotBeDeleted")?;
        }
    }
    for old in current {
        if !wanted_ids.iter().any(|w| w.eq_ignore_ascii_case(&old)) {
            world.resources.remove(&key(&old));
        }
    }

    for (subnet, subnet_id) in wanted.iter().zip(&wanted_ids) {
        let existing = world.get(subnet_id).cloned();
        let mut sub_body = subnet_body(world, subnet_id, subnet, existing.as_ref())?;
        sub_body["properties"]["provisioningState"] = json!("Updating");
        let mut resource = Resource::new(subnet_id, types::SUBNET, sub_body);
        resource.parent = Some(key(vnet_id));
        world.insert(resource);
    }

    let props = body["properties"].as_object_mut().expect("object");
    props.remove("subnets");
    props.entry("virtualNetworkPeerings").or_insert_with(|| json!([]));
    props.entry("enableDdosProtection").or_insert_with(|| json!(false));
    let guid = world.uuid();
    props.entry("resourceGuid").or_insert_with(|| json!(guid));
    Ok(())
}

/// A subnet as rendered, from a subnet request (standalone or inline in a VNet).
fn subnet_body(
    world: &mut World,
    id: &str,
    request: &Value,
    existing: Option<&Resource>,
) -> Result<Value, ApiError> {
    let name = id.rsplit('/').next().unwrap_or_default();
    let mut props = request.get("properties").cloned().unwrap_or_else(|| json!({}));
    if !props.is_object() {
        props = json!({});
    }
    props.as_object_mut().expect("object").remove("provisioningState");

    if let Some(nsg) = props.pointer("/networkSecurityGroup/id").and_then(Value::as_str) {
        ensure_exists(world, nsg, id)?;
    }

    let delegations: Vec<Value> = props
        .get("delegations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            let dname = d.get("name").and_then(Value::as_str).unwrap_or("delegation").to_string();
            let service = d.pointer("/properties/serviceName").and_then(Value::as_str);
            let service = service.unwrap_or_default().to_string();
            let actions = if service.eq_ignore_ascii_case(ACI_SERVICE) {
                json!(["Microsoft.Network/virtualNetworks/subnets/action"])
            } else {
                d.pointer("/properties/actions").cloned().unwrap_or_else(|| json!([]))
            };
            json!({
                "name": dname,
                "id": format!("{id}/delegations/{dname}"),
                "type": "Microsoft.Network/virtualNetworks/subnets/delegations",
                "properties": {
                    "serviceName": service,
                    "actions": actions,
                    "provisioningState": "Succeeded",
                },
            })
        })
        .collect();
    props["delegations"] = json!(delegations);

    let links = existing
        .and_then(|e| e.body.pointer("/properties/serviceAssociationLinks"))
        .cloned()
        .unwrap_or_else(|| json!([]));
    props["serviceAssociationLinks"] = links;
    props
        .as_object_mut()
        .expect("object")
        .entry("privateEndpointNetworkPolicies")
        .or_insert_with(|| json!("Disabled"));
    props
        .as_object_mut()
        .expect("object")
        .entry("privateLinkServiceNetworkPolicies")
        .or_insert_with(|| json!("Enabled"));
    props["provisioningState"] = json!("Updating");

    Ok(json!({
        "id": id,
        "name": name,
        "type": types::SUBNET,
        "etag": etag(world),
        "properties": props,
    }))
}

fn put_nsg(world: &mut World, nsg_id: &str, request: &Value, body: &mut Value) {
    let rules: Vec<Value> = request
        .pointer("/properties/securityRules")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let current: Vec<String> =
        world.children(nsg_id, types::NSG_RULE).iter().map(|r| key(&r.id)).collect();
    for old in current {
        world.resources.remove(&old);
    }

    for rule in rules {
        let name = rule.get("name").and_then(Value::as_str).unwrap_or("rule").to_string();
        let rule_id = format!("{nsg_id}/securityRules/{name}");
        let mut props = rule.get("properties").cloned().unwrap_or_else(|| json!({}));
        props["provisioningState"] = json!("Updating");
        let rule_body = json!({
            "id": rule_id,
            "name": name,
            "type": types::NSG_RULE,
            "etag": etag(world),
            "properties": props,
        });
        let mut resource = Resource::new(&rule_id, types::NSG_RULE, rule_body);
        resource.parent = Some(key(nsg_id));
        world.insert(resource);
    }

    let props = body["properties"].as_object_mut().expect("object");
    props.remove("securityRules");
    props.insert("defaultSecurityRules".into(), default_rules(nsg_id));
    let guid = world.uuid();
    props.entry("resourceGuid").or_insert_with(|| json!(guid));
}

fn default_rules(nsg_id: &str) -> Value {
    let rule = |name: &str, priority: u32, direction: &str, access: &str, src: &str, dst: &str| {
        json!({
            "name": name,
            "id": format!("{nsg_id}/defaultSecurityRules/{name}"),
            "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
            "properties": {
                "protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                "sourceAddressPrefix": src, "destinationAddressPrefix": dst,
                "access": access, "priority": priority, "direction": direction,
                "provisioningState": "Succeeded",
            },
        })
    };
    json!([
        rule("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
        rule("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
        rule("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
        rule("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
        rule("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
        rule("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*"),
    ])
}

/// Public IPs get a loopback address (never a routable one) and an FQDN for a DNS label.
fn public_ip(world: &mut World, location: &str, request: &Value, body: &mut Value) {
    let standard = request
        .pointer("/sku/name")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("Standard"));
    if body.get("sku").is_none() {
        body["sku"] = json!({ "name": "Basic", "tier": "Regional" });
    }
    let ip = world.loopback_ip().to_string();
    let guid = world.uuid();
    let props = body["properties"].as_object_mut().expect("object");
    let method = if standard { "Static" } else { "Dynamic" };
    props.entry("publicIPAllocationMethod").or_insert_with(|| json!(method));
    props.entry("publicIPAddressVersion").or_insert_with(|| json!("IPv4"));
    props.entry("idleTimeoutInMinutes").or_insert_with(|| json!(4));
    props.insert("ipAddress".into(), json!(ip));
    props.entry("resourceGuid").or_insert_with(|| json!(guid));
    if let Some(label) =
        props.get("dnsSettings").and_then(|d| d.get("domainNameLabel")).and_then(Value::as_str)
    {
        let fqdn = format!("{label}.{}.cloudapp.azure.com", super::ids::short_location(location));
        props.get_mut("dnsSettings").expect("present")["fqdn"] = json!(fqdn);
    }
}

fn nic(world: &mut World, nic_id: &str, body: &mut Value) -> Result<(), ApiError> {
    if let Some(nsg) = body.pointer("/properties/networkSecurityGroup/id").and_then(Value::as_str) {
        ensure_exists(world, nsg, nic_id)?;
    }
    let configs = body
        .pointer("/properties/ipConfigurations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut rendered = Vec::new();

    for (i, config) in configs.into_iter().enumerate() {
        let name = config.get("name").and_then(Value::as_str).unwrap_or("ipconfig1").to_string();
        let mut props = config.get("properties").cloned().unwrap_or_else(|| json!({}));
        for reference in ["/subnet/id", "/publicIPAddress/id"] {
            if let Some(target) = props.pointer(reference).and_then(Value::as_str) {
                ensure_exists(world, target, nic_id)?;
            }
        }
        props["privateIPAddress"] = json!(format!("10.0.0.{}", 4 + i));
        props
            .as_object_mut()
            .expect("object")
            .entry("privateIPAllocationMethod")
            .or_insert_with(|| json!("Dynamic"));
        props.as_object_mut().expect("object").entry("primary").or_insert_with(|| json!(i == 0));
        props["provisioningState"] = json!("Succeeded");
        rendered.push(json!({
            "id": format!("{nic_id}/ipConfigurations/{name}"),
            "name": name,
            "type": "Microsoft.Network/networkInterfaces/ipConfigurations",
            "properties": props,
        }));
    }
    body["properties"]["ipConfigurations"] = json!(rendered);
    let guid = world.uuid();
    let props = body["properties"].as_object_mut().expect("object");
    props.entry("resourceGuid").or_insert_with(|| json!(guid));
    props.entry("enableAcceleratedNetworking").or_insert_with(|| json!(false));
    props.entry("enableIPForwarding").or_insert_with(|| json!(false));
    Ok(())
}

fn ensure_exists(world: &World, target: &str, referrer: &str) -> Result<(), ApiError> {
    if world.get(target).is_some() {
        return Ok(());
    }
    Err(ApiError::arm(
        400,
        "InvalidResourceReference",
        format!(
            "Resource {target} referenced by resource {referrer} was not found. Please make sure \
                that the referenced resource exists, and that both resources are in the same \
                region."
        ),
    ))
}

fn ensure_unused(world: &World, id: &str, code: &str) -> Result<(), ApiError> {
    match super::referenced_by(world, id) {
        Some(user) => Err(ApiError::arm(
            400,
            code,
            format!(
                "{} {id} is in use by {user} and cannot be deleted. In order to delete the \
                    resource, remove all resources that use it.",
                code.trim_start_matches("InUse").trim_end_matches("CannotBeDeleted")
            ),
        )),
        None => Ok(()),
    }
}

fn delete(
    world: &mut World,
    ctx: &mut Ctx,
    r: &ResourceRef,
    rtype: &'static str,
) -> Result<Reply, ApiError> {
    let id = r.id();
    let Some(resource) = world.get(&id) else {
        return Ok(Reply::empty(StatusCode::NO_CONTENT));
    };
    let location = resource.location().map(String::from).or_else(|| {
        resource
            .parent
            .as_ref()
            .and_then(|p| world.resources.get(p))
            .and_then(|p| p.location().map(String::from))
    });

    let in_use_code = match rtype {
        types::SUBNET | types::VNET => "InUseSubnetCannotBeDeleted",
        types::NSG => "InUseNetworkSecurityGroupCannotBeDeleted",
        types::PUBLIC_IP => "PublicIPAddressInUseCannotBeDeleted",
        types::NIC => "NicInUseCannotBeDeleted",
        _ => "InUseResourceCannotBeDeleted",
    };
    if rtype == types::VNET {
        for subnet in
            world.children(&id, types::SUBNET).iter().map(|s| s.id.clone()).collect::<Vec<_>>()
        {
            ensure_unused(world, &subnet, in_use_code)?;
        }
    }
    ensure_unused(world, &id, in_use_code)?;

    if let Some(resource) = world.get_mut(&id) {
        resource.set_provisioning_state("Deleting");
    }
    let op_key = format!("{rtype}:DELETE");
    let spec = OpSpec {
        kind: OpKind::Delete,
        target: key(&id),
        op_key: &op_key,
        namespace: "Microsoft.Network",
        location: location.as_deref().unwrap_or("eastus"),
        sub: &r.sub,
    };
    let started = lro::start(world, ctx, spec);
    Ok(lro::headers(Reply::empty(StatusCode::ACCEPTED), &started, true))
}

/// `GET .../subnets/{s}/ServiceAssociationLinks`.
fn service_association_links(world: &World, r: &ResourceRef) -> Result<Reply, ApiError> {
    let subnet_id = r.id();
    let subnet = world.get(&subnet_id).ok_or_else(|| super::not_found(r, types::SUBNET))?;
    let links = subnet
        .body
        .pointer("/properties/serviceAssociationLinks")
        .cloned()
        .unwrap_or_else(|| json!([]));
    Ok(Reply::ok(json!({ "value": links })))
}

/// Adds the link ACI puts on a subnet a container group is deployed to.
pub(crate) fn link_subnet(world: &mut World, subnet_id: &str, group_id: &str) {
    let Some(subnet) = world.get_mut(subnet_id) else { return };
    let link = json!({
        "name": "acisal",
        "id": format!("{}/serviceAssociationLinks/acisal", subnet.id),
        "type": "Microsoft.Network/virtualNetworks/subnets/serviceAssociationLinks",
        "properties": {
            "linkedResourceType": ACI_SERVICE,
            "link": group_id,
            "allowDelete": true,
            "provisioningState": "Succeeded",
        },
    });
    let links = &mut subnet.body["properties"]["serviceAssociationLinks"];
    if !links.is_array() {
        *links = json!([]);
    }
    let list = links.as_array_mut().expect("array");
    let already = list.iter().any(|l| {
        l.pointer("/properties/link")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case(group_id))
    });
    if !already {
        list.push(link);
    }
}

/// True when the subnet is delegated to container groups.
pub(crate) fn delegated_to_aci(subnet: &Resource) -> bool {
    let delegations = subnet.body.pointer("/properties/delegations").and_then(Value::as_array);
    delegations.is_some_and(|ds| {
        ds.iter().any(|d| {
            d.pointer("/properties/serviceName")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(ACI_SERVICE))
        })
    })
}
