//! Microsoft.Network LROs: Azure-AsyncOperation on PUT, Location on DELETE, in-use checks.

mod common;

use std::time::Duration;

use common::{rg_path, start, start_manual, with_version};
use polaris_sim::{LatencyProfile, OpTiming};
use reqwest::StatusCode;
use serde_json::json;

fn slow_network() -> LatencyProfile {
    LatencyProfile::default()
        .with("Microsoft.Network:PUT", OpTiming::lro(Duration::from_secs(30)))
        .with("Microsoft.Network:DELETE", OpTiming::lro(Duration::from_secs(10)))
}

#[tokio::test]
async fn vnet_put_is_tracked_through_azure_async_operation_on_the_clock() {
    let sim = start_manual(slow_network()).await;
    sim.create_group("net").await;
    let path = with_version(
        &format!("{}/providers/Microsoft.Network/virtualNetworks/vnet1", rg_path("net")),
        "2024-01-01",
    );
    let body = json!({
        "location": "westeurope",
        "properties": {
            "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
            "subnets": [{ "name": "aci", "properties": { "addressPrefix": "10.0.1.0/24",
                "delegations": [common::aci_delegation("d")] } }],
        },
    });

    let created = sim.put(&path, body).await;
    let status_url = created.header("azure-asyncoperation").unwrap();
    let running = sim.get(&status_url).await;
    sim.advance(Duration::from_secs(29)).await;
    let still_running = sim.get(&status_url).await;
    sim.advance(Duration::from_secs(1)).await;
    let done = sim.get(&status_url).await;
    let read = sim.get(&path).await;

    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["properties"]["provisioningState"], "Updating");
    assert!(status_url.contains("/providers/Microsoft.Network/locations/westeurope/operations/"));
    assert_eq!(running.body["status"], "InProgress");
    assert_eq!(still_running.body["status"], "InProgress");
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(done.body["status"], "Succeeded");
    assert_eq!(read.body["properties"]["provisioningState"], "Succeeded");
    let subnet = &read.body["properties"]["subnets"][0];
    assert_eq!(subnet["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        subnet["properties"]["delegations"][0]["properties"]["serviceName"],
        "Microsoft.ContainerInstance/containerGroups"
    );
}

#[tokio::test]
async fn delete_answers_202_with_location_then_200_and_the_resource_is_gone() {
    let sim = start_manual(slow_network()).await;
    sim.create_group("net").await;
    let path = with_version(
        &format!("{}/providers/Microsoft.Network/networkSecurityGroups/nsg1", rg_path("net")),
        "2024-01-01",
    );
    let body = json!({ "location": "westeurope",
        "properties": { "securityRules": [{ "name": "allow-proxy",
        "properties": { "priority": 100, "direction": "Inbound", "access": "Allow",
            "protocol": "Tcp",
            "sourcePortRange": "*", "destinationPortRange": "3000", "sourceAddressPrefix": "*",
                "destinationAddressPrefix": "*" } }] } });
    sim.put(&path, body).await;
    sim.advance(Duration::from_secs(30)).await;

    let deleted = sim.delete(&path).await;
    let location = deleted.header("location").unwrap();
    let pending = sim.get(&location).await;
    sim.advance(Duration::from_secs(10)).await;
    let finished = sim.get(&location).await;
    let gone = sim.get(&path).await;
    let again = sim.delete(&path).await;

    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert!(deleted.header("azure-asyncoperation").is_some());
    assert_eq!(pending.status, StatusCode::ACCEPTED);
    assert_eq!(finished.status, StatusCode::OK);
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn standalone_subnet_put_keeps_delegation_and_nsg_reference() {
    let sim = start().await;
    sim.create_group("net").await;
    sim.create_subnet("net", "vnet1", "first", false).await;
    let nsg = format!("{}/providers/Microsoft.Network/networkSecurityGroups/nsg1", rg_path("net"));
    let nsg_put =
        sim.put(&with_version(&nsg, "2024-01-01"), json!({ "location": "westeurope" })).await;
    sim.wait_async(&nsg_put.header("azure-asyncoperation").unwrap()).await;
    let subnet = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/second",
        rg_path("net")
    );

    let missing_nsg = sim
        .put(
            &with_version(&subnet, "2024-01-01"),
            json!({ "properties": { "addressPrefix": "10.0.2.0/24",
            "networkSecurityGroup": { "id": format!("{nsg}-missing") } } }),
        )
        .await;
    let created = sim
        .put(
            &with_version(&subnet, "2024-01-01"),
            json!({ "properties": { "addressPrefix": "10.0.2.0/24",
            "networkSecurityGroup": { "id": nsg },
            "delegations": [common::aci_delegation("d")] } }),
        )
        .await;
    sim.wait_async(&created.header("azure-asyncoperation").unwrap()).await;
    let vnet = sim
        .get(&with_version(
            &format!("{}/providers/Microsoft.Network/virtualNetworks/vnet1", rg_path("net")),
            "2024-01-01",
        ))
        .await;
    let nsg_delete = sim.delete(&with_version(&nsg, "2024-01-01")).await;

    assert_eq!(missing_nsg.status, StatusCode::BAD_REQUEST);
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["type"], "Microsoft.Network/virtualNetworks/subnets");
    assert_eq!(vnet.body["properties"]["subnets"].as_array().unwrap().len(), 2);
    assert_eq!(nsg_delete.status, StatusCode::BAD_REQUEST);
    assert_eq!(nsg_delete.body["error"]["code"], "InUseNetworkSecurityGroupCannotBeDeleted");
}

#[tokio::test]
async fn subnet_with_a_container_group_cannot_be_deleted_until_the_group_is_gone() {
    let sim = start().await;
    sim.create_group("net").await;
    let subnet = sim.create_subnet("net", "vnet1", "aci", true).await;
    let group =
        format!("{}/providers/Microsoft.ContainerInstance/containerGroups/g1", rg_path("net"));
    let body = json!({ "location": "westeurope", "properties": {
        "osType": "Linux", "subnetIds": [{ "id": subnet }],
        "containers": [{ "name": "c", "properties": { "image": "x",
            "resources": { "requests": { "cpu": 1, "memoryInGB": 1 } } } }],
        "ipAddress": { "type": "Private", "ports": [{ "port": 3000, "protocol": "TCP" }] } } });
    let put = sim.put(&with_version(&group, "2023-05-01"), body).await;
    assert_eq!(put.status, StatusCode::CREATED, "{:?}", put.body);

    let links =
        sim.get(&with_version(&format!("{subnet}/ServiceAssociationLinks"), "2024-01-01")).await;
    let refused = sim.delete(&with_version(&subnet, "2024-01-01")).await;
    let refused_vnet = sim
        .delete(&with_version(
            &format!("{}/providers/Microsoft.Network/virtualNetworks/vnet1", rg_path("net")),
            "2024-01-01",
        ))
        .await;
    sim.delete(&with_version(&group, "2023-05-01")).await;
    let accepted = sim.delete(&with_version(&subnet, "2024-01-01")).await;

    assert_eq!(
        links.body["value"][0]["properties"]["linkedResourceType"],
        "Microsoft.ContainerInstance/containerGroups"
    );
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.body["error"]["code"], "InUseSubnetCannotBeDeleted");
    assert_eq!(refused_vnet.body["error"]["code"], "InUseSubnetCannotBeDeleted");
    assert_eq!(accepted.status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn public_ip_and_nic_get_generated_addresses_and_references_are_checked() {
    let sim = start().await;
    sim.create_group("net").await;
    let subnet = sim.create_subnet("net", "vnet1", "vm", false).await;
    let pip = format!("{}/providers/Microsoft.Network/publicIPAddresses/pip1", rg_path("net"));
    let nic = format!("{}/providers/Microsoft.Network/networkInterfaces/nic1", rg_path("net"));

    let pip_put = sim
        .put(
            &with_version(&pip, "2024-01-01"),
            json!({ "location": "westeurope", "sku": { "name": "Standard" },
            "properties": { "dnsSettings": { "domainNameLabel": "polaris" } } }),
        )
        .await;
    let bad_nic = sim
        .put(
            &with_version(&nic, "2024-01-01"),
            json!({ "location": "westeurope", "properties": { "ipConfigurations": [
            { "name": "ip", "properties": { "subnet": { "id": format!("{subnet}x") } } }] } }),
        )
        .await;
    let nic_put = sim
        .put(
            &with_version(&nic, "2024-01-01"),
            json!({ "location": "westeurope",
            "properties": { "ipConfigurations": [
            { "name": "ip", "properties": { "subnet": { "id": subnet },
                "publicIPAddress": { "id": pip } } }] } }),
        )
        .await;
    let pip_delete = sim.delete(&with_version(&pip, "2024-01-01")).await;

    let ip = pip_put.body["properties"]["ipAddress"].as_str().unwrap();
    assert!(ip.starts_with("127."), "public IPs are loopback in the sim: {ip}");
    assert_eq!(pip_put.body["properties"]["publicIPAllocationMethod"], "Static");
    assert_eq!(
        pip_put.body["properties"]["dnsSettings"]["fqdn"],
        "polaris.westeurope.cloudapp.azure.com"
    );
    assert_eq!(bad_nic.body["error"]["code"], "InvalidResourceReference");
    assert_eq!(nic_put.status, StatusCode::CREATED);
    assert_eq!(
        nic_put.body["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
        "10.0.0.4"
    );
    assert_eq!(pip_delete.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn vnet_put_without_a_subnet_deletes_it() {
    let sim = start().await;
    sim.create_group("net").await;
    sim.create_subnet("net", "vnet1", "old", false).await;
    let path = with_version(
        &format!("{}/providers/Microsoft.Network/virtualNetworks/vnet1", rg_path("net")),
        "2024-01-01",
    );

    let updated = sim
        .put(
            &path,
            json!({ "location": "westeurope",
        "properties": { "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] } } }),
        )
        .await;

    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(updated.body["properties"]["subnets"], json!([]));
}
