//! Image references, and digest pinning when a CCE policy is in force (B07, B12).

use super::Checker;
use crate::spec::image::{ImageError, ImageRef, parse_digest};

pub(super) fn check(c: &mut Checker<'_>) {
    let spec = c.spec;
    let has_cce = spec.cce_policy.is_some();
    let sidecar_used = spec.enable_key_vault && !c.is_vm();

    let workload = spec.workload_image_ref();
    if spec.workload_image.trim().is_empty() {
        // A missing field was already reported while reading; this catches `""`.
        let fix = "set the workload's container image, e.g. `myregistry.azurecr.io/app:1.0`";
        c.error("workload_image", "must not be empty", fix);
    } else {
        check_image(c, "workload_image", &workload, has_cce);
    }

    check_proxy_version(c, has_cce);

    if sidecar_used {
        let sidecar = spec.skr_sidecar_image.clone();
        check_image(c, "skr_sidecar_image", &sidecar, has_cce);
    }
}

fn check_image(c: &mut Checker<'_>, field: &str, reference: &str, must_pin: bool) {
    match ImageRef::parse(reference) {
        Ok(image) if must_pin && !image.is_pinned() => {
            let message = format!(
                "`{reference}` is not pinned by digest; a CCE policy pins layer hashes, so a \
                 moved tag fails at start with `deviceHash not found`"
            );
            c.error(field, message, format!("use `{reference}@sha256:<digest>`"));
        }
        Ok(_) => {}
        Err(ImageError::UpperCase(path)) => {
            let message = format!("repository path `{path}` has upper-case letters");
            let fix = format!("use `{}`", lower_repository(reference, &path));
            c.error(field, message, fix);
        }
        Err(e) => c.error(field, e.to_string(), "use registry/repository[:tag][@sha256:<hex>]"),
    }
}

/// The reference with only its repository path lower-cased (tags may keep their case).
fn lower_repository(reference: &str, path: &str) -> String {
    reference.replacen(path, &path.to_lowercase(), 1)
}

fn check_proxy_version(c: &mut Checker<'_>, must_pin: bool) {
    let version = c.spec.polaris_proxy_image_version.clone();
    let field = "polaris_proxy_image_version";
    if version.starts_with("sha256:") {
        if parse_digest(&version).is_err() {
            let message = format!("`{version}` is not `sha256:` and 64 lower-case hex digits");
            c.error(field, message, "copy the digest from the registry");
        }
        return;
    }

    let reference = c.spec.proxy_image_ref();
    if ImageRef::parse(&reference).is_err() {
        let message = format!("`{version}` is not a valid tag");
        c.error(field, message, "use a tag such as `latest` or a digest `sha256:<hex>`");
    } else if must_pin {
        let message = format!(
            "tag `{version}` is not pinned; with a cce_policy every image must be a digest"
        );
        c.error(field, message, "use the proxy image digest, `sha256:<64 hex>`");
    }
}
