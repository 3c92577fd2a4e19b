//! Key Vault, attestation and CCE policy rules (B03, B05, B08).

use super::Checker;
use crate::spec::image::check_host;
use crate::spec::policy::{self, PolicyError};

pub(super) fn check(c: &mut Checker<'_>) {
    check_cce_policy(c);
    check_maa(c);
    check_release_policy(c);
    check_key_settings(c);
}

fn check_cce_policy(c: &mut Checker<'_>) {
    let Some(cce) = c.spec.cce_policy.clone() else { return };
    let field = "cce_policy";
    if c.is_vm() {
        let message = "a CCE policy applies to confidential container groups only";
        c.error(field, message, "remove cce_policy for compute_target = confidential_vm");
        return;
    }
    if !c.spec.enable_key_vault {
        let message = "a CCE policy needs the Confidential SKU, which only enhanced mode uses";
        c.error(field, message, "set enable_key_vault = true, or remove cce_policy");
    }

    match policy::decode_cce_policy(&cce) {
        Ok(_) => {}
        Err(PolicyError::CcePolicyEmpty) => {
            let message = "is empty; ARM rejects confidential groups with an empty policy \
                           (InvalidCcePolicy), and an empty output usually means generation failed";
            c.error(field, message, "re-run `az confcom acipolicygen` and check it succeeded");
        }
        Err(e) => c.error(field, e.to_string(), "paste the base64 output of acipolicygen"),
    }
}

fn check_maa(c: &mut Checker<'_>) {
    let spec = c.spec;
    if let Some(explicit) = &spec.maa_endpoint {
        let host = crate::spec::normalise_host(explicit);
        if host.contains('/') || check_host(&host).is_err() {
            let message = format!("`{explicit}` is not a host name");
            let fix = "give the bare host, e.g. `sharedweu.weu.attest.azure.net`";
            c.error("maa_endpoint", message, fix);
        }
        return;
    }
    // An unknown location is reported on its own field; do not repeat it here.
    let known_location = crate::spec::regions::find_region(&spec.location).is_some();
    if spec.enable_key_vault && known_location && spec.maa_host().is_none() {
        let message = format!(
            "`{}` has no shared attestation endpoint that we know of, and enhanced mode needs one",
            spec.location
        );
        let fix = "set maa_endpoint to your attestation provider's host";
        c.error("maa_endpoint", message, fix);
    }
}

fn check_release_policy(c: &mut Checker<'_>) {
    let spec = c.spec;
    let Some(release) = &spec.release_policy else { return };
    if !spec.enable_key_vault {
        let message = "a release policy needs a Key Vault key (enhanced mode)";
        c.error("release_policy", message, "set enable_key_vault = true, or remove it");
        return;
    }
    let hostdata = spec.cce_hostdata();
    if let Err(e) = release.check_safe(spec.platform(), hostdata.as_deref()) {
        let fix = "require `x-ms-sevsnpvm-vmpl` equals 0 and (containers) the CCE policy hash as \
                   `x-ms-sevsnpvm-hostdata`, or omit release_policy to use the generated one";
        c.error("release_policy", e.to_string(), fix);
    }
}

fn check_key_settings(c: &mut Checker<'_>) {
    let spec = c.spec;
    let retention = spec.key_vault_soft_delete_retention_days;
    if !(7..=90).contains(&retention) {
        let message = format!("{retention} is outside 7..=90 days");
        c.error("key_vault_soft_delete_retention_days", message, "use 7 to 90");
    }

    let rotation = spec.key_rotation_days;
    if rotation != 0 && !(7..=3650).contains(&rotation) {
        let message = format!("{rotation} days; Key Vault rotates no sooner than 7 days");
        c.error("key_rotation_days", message, "use 7 to 3650, or 0 to disable rotation");
    }
}
