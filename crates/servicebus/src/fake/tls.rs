//! A throwaway PKI for the fake: a CA, and a leaf for 127.0.0.1/localhost signed by it.
//! rustls refuses a CA certificate used as the server's own (`CaUsedAsEndEntity`), hence two.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use super::FakeError;

pub(crate) struct Pki {
    pub ca_pem: String,
    pub server: Arc<ServerConfig>,
}

pub(crate) fn generate() -> Result<Pki, FakeError> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "polaris fake Service Bus CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = PrivatePkcs8KeyDer::from(leaf_key.serialize_der());
    let chain = vec![CertificateDer::from(leaf_cert.der().to_vec())];
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key.into())?;

    Ok(Pki { ca_pem: ca_cert.pem(), server: Arc::new(server) })
}

/// A client that trusts only `ca_pem` and ignores proxy variables, so test traffic stays on
/// loopback whatever the environment says.
pub(crate) fn client(ca_pem: &str) -> Result<reqwest::Client, FakeError> {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())?;
    Ok(reqwest::Client::builder().tls_certs_only([ca]).no_proxy().build()?)
}
