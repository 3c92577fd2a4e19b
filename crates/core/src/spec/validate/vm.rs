//! Confidential VM preconditions (B10), checked before anything is created.

use super::Checker;
use super::network::parse_range;
use crate::spec::{ComputeTarget, EnvValue, VmSpec, defaults};

pub(super) fn check(c: &mut Checker<'_>) {
    let spec = c.spec;
    if spec.compute_target == ComputeTarget::ContainerGroup {
        if spec.vm.is_some() {
            let message = "is only used with compute_target = \"confidential_vm\"";
            c.error("vm", message, "remove `vm`, or set compute_target = \"confidential_vm\"");
        }
        return;
    }

    let vm = spec.vm.clone().unwrap_or_default();
    check_size(c, &vm);
    check_login(c, &vm);
    check_disk_and_image(c, &vm);
    check_no_secrets(c);
}

fn check_size(c: &mut Checker<'_>, vm: &VmSpec) {
    if !defaults::is_cvm_size(&vm.vm_size) {
        let message = format!("`{}` does not support the ConfidentialVM security type", vm.vm_size);
        let fix = format!("use a confidential size such as `{}`", defaults::VM_SIZE);
        c.error("vm.vm_size", message, fix);
    }
    if let Some(zone) = &vm.zone
        && !["1", "2", "3"].contains(&zone.as_str())
    {
        c.error("vm.zone", format!("`{zone}` is not an availability zone"), "use 1, 2 or 3");
    }
}

fn check_login(c: &mut Checker<'_>, vm: &VmSpec) {
    if vm.ssh_public_key.trim().is_empty() {
        let message = "is required for a confidential VM (password login is never enabled)";
        c.error("vm.ssh_public_key", message, "paste the contents of your id_ed25519.pub");
    } else if !is_ssh_public_key(&vm.ssh_public_key) {
        let message = "is not an OpenSSH public key";
        let fix = "use the single line `ssh-ed25519 AAAA...` or `ssh-rsa AAAA...`";
        c.error("vm.ssh_public_key", message, fix);
    }

    const RESERVED: [&str; 8] =
        ["root", "admin", "administrator", "guest", "user", "test", "sys", "daemon"];
    let user = &vm.admin_username;
    let valid_chars =
        user.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b));
    let ok = (1..=32).contains(&user.len())
        && valid_chars
        && user.starts_with(|ch: char| ch.is_ascii_lowercase() || ch == '_')
        && !RESERVED.contains(&user.as_str());
    if !ok {
        let message = format!("`{user}` is not an allowed Linux admin user name");
        c.error("vm.admin_username", message, "use lower-case letters, e.g. `polaris`");
    }

    for (i, range) in vm.ssh_source_ranges.iter().enumerate() {
        if parse_range(range).is_none() {
            let message = format!("`{range}` is not an IP address or CIDR");
            c.error(
                format!("vm.ssh_source_ranges[{i}]"),
                message,
                "use a CIDR, e.g. 203.0.113.7/32",
            );
        }
    }
}

fn is_ssh_public_key(key: &str) -> bool {
    const TYPES: [&str; 5] = [
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
    ];
    let mut parts = key.split_whitespace();
    let (Some(kind), Some(body)) = (parts.next(), parts.next()) else { return false };
    let body_ok =
        body.len() > 20 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
    TYPES.contains(&kind) && body_ok
}

fn check_disk_and_image(c: &mut Checker<'_>, vm: &VmSpec) {
    let encryption = &vm.os_disk_security_encryption_type;
    if !defaults::VM_ENCRYPTION_TYPES.contains(&encryption.as_str()) {
        let message = format!(
            "`{encryption}` is not an OS-disk security encryption type; a confidential VM \
             without one is rejected"
        );
        let fix = format!("use one of {:?}", defaults::VM_ENCRYPTION_TYPES);
        c.error("vm.os_disk_security_encryption_type", message, fix);
    }

    let image = &vm.image_id;
    let is_id = ["/communityGalleries/", "/sharedGalleries/", "/subscriptions/"]
        .iter()
        .any(|p| image.starts_with(p));
    let is_urn = image.split(':').count() == 4 && image.split(':').all(|p| !p.is_empty());
    if !is_id && !is_urn {
        let message =
            format!("`{image}` is neither an image id nor a publisher:offer:sku:version URN");
        c.error("vm.image_id", message, "use a gallery image id or a CVM marketplace URN");
    }
}

/// The VM receives its containers through cloud-init custom data, which anyone with read
/// access to the VM can read back; secrets must not travel that way (the module's defect).
fn check_no_secrets(c: &mut Checker<'_>) {
    let spec = c.spec;
    if spec.registry_password.is_set() {
        let message = "cannot be delivered to a VM safely: custom data is readable by anyone \
                       who can read the VM";
        let fix = "use a public image or the container_group target";
        c.error("registry_password", message, fix);
    }
    for (name, value) in &spec.workload_env_vars {
        if matches!(value, EnvValue::Secure(_)) {
            let message = "secret values cannot be delivered to a VM safely (custom data)";
            let fix = "use the container_group target for secret env vars";
            c.error(format!("workload_env_vars.{name}"), message, fix);
        }
    }
}
