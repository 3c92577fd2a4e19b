//! Confidential VMs and the resource-SKU list.

mod common;

use common::{SUB, rg_path, start, with_version};
use reqwest::StatusCode;
use serde_json::{Value, json};

const VM: &str = "2024-03-01";

fn cvm(location: &str, encryption: Option<&str>) -> Value {
    let mut managed = json!({ "storageAccountType": "Standard_LRS" });
    if let Some(kind) = encryption {
        managed["securityProfile"] = json!({ "securityEncryptionType": kind });
    }
    json!({ "location": location, "properties": {
        "hardwareProfile": { "vmSize": "Standard_NCC40ads_H100_v5" },
        "securityProfile": { "securityType": "ConfidentialVM",
            "uefiSettings": { "secureBootEnabled": true, "vTpmEnabled": true } },
        "storageProfile": { "osDisk": { "createOption": "FromImage", "managedDisk": managed } },
        "osProfile": { "computerName": "vm", "adminUsername": "azureuser",
            "adminPassword": "P@ssw0rd!" },
    } })
}

#[tokio::test]
async fn confidential_vm_needs_the_os_disk_encryption_type() {
    let sim = start().await;
    sim.create_group("vm").await;
    let path = with_version(
        &format!("{}/providers/Microsoft.Compute/virtualMachines/cvm", rg_path("vm")),
        VM,
    );

    let refused = sim.put(&path, cvm("westeurope", None)).await;
    let unavailable = sim.put(&path, cvm("westus", Some("VMGuestStateOnly"))).await;
    let created = sim.put(&path, cvm("westeurope", Some("VMGuestStateOnly"))).await;
    let op = sim.wait_async(&created.header("azure-asyncoperation").unwrap()).await;
    let read = sim.get(&path).await;

    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("securityEncryptionType"));
    assert_eq!(unavailable.status, StatusCode::CONFLICT);
    assert_eq!(unavailable.body["error"]["code"], "SkuNotAvailable");
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["properties"]["provisioningState"], "Creating");
    assert_eq!(op["status"], "Succeeded");
    assert_eq!(read.body["properties"]["provisioningState"], "Succeeded");
    assert!(!read.body.to_string().contains("P@ssw0rd!"));
}

#[tokio::test]
async fn vm_delete_is_a_location_lro_and_accepts_force_deletion() {
    let sim = start().await;
    sim.create_group("vm").await;
    let path = format!("{}/providers/Microsoft.Compute/virtualMachines/cvm", rg_path("vm"));
    sim.put(&with_version(&path, VM), cvm("westeurope", Some("DiskWithVMGuestState"))).await;

    let deleted = sim.delete(&format!("{path}?forceDeletion=true&api-version={VM}")).await;
    let mut status = StatusCode::ACCEPTED;
    for _ in 0..50 {
        status = sim.get(&deleted.header("location").unwrap()).await.status;
        if status != StatusCode::ACCEPTED {
            break;
        }
    }

    assert_eq!(deleted.status, StatusCode::ACCEPTED);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sim.get(&with_version(&path, VM)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sku_list_offers_the_h100_size_only_in_its_regions() {
    let sim = start().await;
    let base =
        format!("/subscriptions/{SUB}/providers/Microsoft.Compute/skus?api-version=2021-07-01");

    let all = sim.get(&base).await;
    let westus = sim.get(&format!("{base}&$filter=location eq 'westus'")).await;

    let h100: Vec<&Value> = all.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "Standard_NCC40ads_H100_v5")
        .collect();
    let regions: Vec<&str> = h100.iter().map(|s| s["locations"][0].as_str().unwrap()).collect();
    assert_eq!(regions, vec!["eastus2", "westeurope"]);
    assert!(
        westus.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "Standard_NCC40ads_H100_v5")
    );
    assert!(!westus.body["value"].as_array().unwrap().is_empty());
}
