//! Stand-in key material. The sim never encrypts with these keys; it only needs values of
//! the right shape: JWK fields of the right length and PEM public keys that parse.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::state::World;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { crv: String, x: Vec<u8>, y: Vec<u8> },
    Oct { k: Vec<u8> },
}

impl Material {
    /// Random material for a key type (`RSA`, `EC-HSM`, `oct`, ...).
    pub fn generate(
        world: &mut World,
        kty: &str,
        key_size: Option<u64>,
        crv: Option<&str>,
    ) -> Self {
        let family = kty.trim_end_matches("-HSM").to_ascii_uppercase();
        match family.as_str() {
            "EC" => {
                let crv = crv.unwrap_or("P-256").to_string();
                let len = match crv.as_str() {
                    "P-384" => 48,
                    "P-521" => 66,
                    _ => 32,
                };
                Material::Ec { x: world.random_bytes(len), y: world.random_bytes(len), crv }
            }
            "OCT" => Material::Oct { k: world.random_bytes(key_size.unwrap_or(256) as usize / 8) },
            _ => {
                let mut n = world.random_bytes(key_size.unwrap_or(2048) as usize / 8);
                if let Some(first) = n.first_mut() {
                    *first |= 0x80;
                }
                if let Some(last) = n.last_mut() {
                    *last |= 1;
                }
                Material::Rsa { n, e: vec![1, 0, 1] }
            }
        }
    }

    /// Public JWK members (`n`/`e` or `crv`/`x`/`y`).
    pub fn public_jwk(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match self {
            Material::Rsa { n, e } => json!({ "n": b64(n), "e": b64(e) }),
            Material::Ec { crv, x, y } => json!({ "crv": crv, "x": b64(x), "y": b64(y) }),
            Material::Oct { .. } => json!({}),
        }
    }

    /// `-----BEGIN PUBLIC KEY-----` (SubjectPublicKeyInfo), or `None` for symmetric keys.
    pub fn public_pem(&self) -> Option<String> {
        let spki = match self {
            Material::Rsa { n, e } => {
                let algorithm = der(0x30, &[RSA_OID, &[0x05, 0x00]].concat());
                let key = der(0x30, &[der_uint(n), der_uint(e)].concat());
                der(0x30, &[algorithm, der(0x03, &[&[0u8][..], &key].concat())].concat())
            }
            Material::Ec { crv, x, y } => {
                let curve: &[u8] = match crv.as_str() {
                    "P-384" => P384_OID,
                    "P-521" => P521_OID,
                    _ => P256_OID,
                };
                let algorithm = der(0x30, &[EC_OID, curve].concat());
                let point = [&[0u8, 0x04][..], x, y].concat();
                der(0x30, &[algorithm, der(0x03, &point)].concat())
            }
            Material::Oct { .. } => return None,
        };
        Some(pem("PUBLIC KEY", &spki))
    }
}

const RSA_OID: &[u8] = &[0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const EC_OID: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const P256_OID: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const P384_OID: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22];
const P521_OID: &[u8] = &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23];

/// One DER TLV.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER holding an unsigned big-endian number.
fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = if trimmed.first().is_some_and(|b| b & 0x80 != 0) { vec![0] } else { vec![] };
    content.extend(if trimmed.is_empty() { vec![0] } else { trimmed });
    der(0x02, &content)
}

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsa_pem_wraps_a_well_formed_spki() {
        let mut world = World::new(3);
        let material = Material::generate(&mut world, "RSA-HSM", Some(4096), None);

        let pem = material.public_pem().unwrap();

        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(b64).unwrap();
        assert_eq!(der[0], 0x30);
        assert_eq!(der[1], 0x82);
        let declared = u16::from_be_bytes([der[2], der[3]]) as usize;
        assert_eq!(declared + 4, der.len());
        let Material::Rsa { n, .. } = material else { panic!("not rsa") };
        assert_eq!(n.len(), 512);
    }

    #[test]
    fn symmetric_keys_have_no_public_pem() {
        let mut world = World::new(3);
        assert_eq!(Material::generate(&mut world, "oct-HSM", None, None).public_pem(), None);
        let ec = Material::generate(&mut world, "EC-HSM", None, Some("P-384"));
        assert_eq!(ec.public_jwk()["crv"], "P-384");
    }
}
