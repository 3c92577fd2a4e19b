//! Module defaults and the platform limits the validator enforces.

/// Public image of the Polaris proxy; the tag or digest comes from
/// `polaris_proxy_image_version`.
pub const PROXY_IMAGE_REPOSITORY: &str = "fr0ntierxpublic.azurecr.io/polaris-proxy";

/// Microsoft's SKR sidecar, at the tag the module pins.
pub const SKR_SIDECAR_IMAGE: &str = "mcr.microsoft.com/aci/skr:2.7";

/// The SKR sidecar listens on `localhost:8080`, which the proxy and the workload share with
/// it inside the group, so neither may listen there in enhanced mode.
pub const SKR_PORT: u16 = 8080;

/// CPU and memory requested by each helper container (proxy, SKR sidecar), as the module.
pub const HELPER_CPU: f64 = 1.0;
pub const HELPER_MEMORY_GB: f64 = 1.0;

/// Per-group limits we enforce for container groups: 4 vCPU and 16 GB in total, helpers
/// included.
///
/// Why these numbers: Azure's container-group resource table lists 4 vCPU / 16 GB as the
/// maximum for a confidential (`Confidential` SKU) Linux group, and the same is the default
/// quota for standard Linux groups in most regions. Holding both modes to the smaller figure
/// means a spec that validates can switch modes without becoming undeployable. Counting the
/// helpers leaves the workload at most 3 vCPU / 15 GB in standard mode and 2 vCPU / 14 GB in
/// enhanced mode (proxy + sidecar).
pub const GROUP_MAX_CPU: f64 = 4.0;
pub const GROUP_MAX_MEMORY_GB: f64 = 16.0;

/// Confidential VM defaults (the GPU module's values).
pub const VM_SIZE: &str = "Standard_NCC40ads_H100_v5";
pub const VM_ADMIN_USERNAME: &str = "polaris";
pub const VM_OS_DISK_ENCRYPTION: &str = "VMGuestStateOnly";
pub const VM_IMAGE_ID: &str = "/communityGalleries/polaris-e3c4198b-d4a4-42b2-b41d-25368bd3d7a1\
/images/polaris-confidential-gpu-h100-2204/versions/latest";

/// Sizes that support the `ConfidentialVM` security type (AMD SEV-SNP): the H100 confidential
/// GPU sizes and the DCas/DCads/ECas/ECads v5 families. Region availability is not checked
/// here (the core has no I/O); the deploy path must check the live SKU list (B10).
pub fn is_cvm_size(size: &str) -> bool {
    const GPU: [&str; 2] = ["Standard_NCC40ads_H100_v5", "Standard_NCC80ads_H100_v5"];
    const DC_CORES: [u32; 8] = [2, 4, 8, 16, 32, 48, 64, 96];
    const EC_CORES: [u32; 9] = [2, 4, 8, 16, 20, 32, 48, 64, 96];
    if GPU.contains(&size) {
        return true;
    }

    let family = |prefix: &str, cores: &[u32]| {
        cores.iter().any(|n| {
            size == format!("Standard_{prefix}{n}as_v5")
                || size == format!("Standard_{prefix}{n}ads_v5")
        })
    };
    family("DC", &DC_CORES) || family("EC", &EC_CORES)
}

/// OS-disk security encryption types a confidential VM accepts.
pub const VM_ENCRYPTION_TYPES: [&str; 3] =
    ["VMGuestStateOnly", "DiskWithVMGuestState", "NonPersistedTPM"];
