//! A throwaway CA and a leaf for 127.0.0.1/localhost signed by it: Azurite needs a server
//! certificate for OAuth, and rustls refuses a CA certificate used as a server's own.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

pub struct Pki {
    pub ca_pem: String,
    pub leaf_pem: String,
    pub leaf_key_pem: String,
}

pub fn generate() -> Pki {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "polaris Azurite test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).expect("CA signs itself");
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().expect("leaf key");
    let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
    let mut leaf = CertificateParams::new(names).expect("leaf params");
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("CA signs the leaf");

    let leaf_key_pem = leaf_key.serialize_pem();
    Pki { ca_pem: ca_cert.pem(), leaf_pem: leaf_cert.pem(), leaf_key_pem }
}
