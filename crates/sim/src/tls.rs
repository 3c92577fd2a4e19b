//! Certificates for HTTPS on loopback.
//!
//! rustls refuses a CA certificate used as the server's own certificate
//! (`CaUsedAsEndEntity`), so we mint a throw-away CA per simulator and a leaf signed by it.
//! Clients trust the CA; the leaf covers `127.0.0.1`, `::1`, `localhost` and
//! `*.vault.azure.net` (for clients that pin vault host names to loopback themselves).

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::SimError;

/// The CA clients must trust and the server configuration using the leaf it signed.
pub(crate) struct TlsMaterial {
    pub ca_pem: String,
    pub server_config: Arc<ServerConfig>,
}

pub(crate) fn generate() -> Result<TlsMaterial, SimError> {
    let ca_key = KeyPair::generate().map_err(SimError::Certificate)?;
    let mut ca_params =
        CertificateParams::new(Vec::<String>::new()).map_err(SimError::Certificate)?;
    ca_params.distinguished_name = name("Polaris Simulated Azure CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(SimError::Certificate)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(SimError::Certificate)?;
    let sans = vec!["localhost".to_string(), "*.vault.azure.net".to_string()];
    let mut leaf_params = CertificateParams::new(sans).map_err(SimError::Certificate)?;
    leaf_params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().expect("ip")));
    leaf_params.subject_alt_names.push(SanType::IpAddress("::1".parse().expect("ip")));
    leaf_params.distinguished_name = name("localhost");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages =
        vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(SimError::Certificate)?;

    let chain = vec![leaf_cert.der().clone(), CertificateDer::from(ca_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let server_config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(SimError::Tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(SimError::Tls)?;

    Ok(TlsMaterial { ca_pem: ca_cert.pem(), server_config: Arc::new(server_config) })
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "polaris-sim");
    dn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_pem_ca_and_a_usable_server_config() {
        let material = generate().unwrap();

        assert!(material.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(material.server_config.alpn_protocols.is_empty());
    }
}
