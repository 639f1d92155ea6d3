//! The key set in memory: private keys parsed once (signing is constant-time aws-lc-rs), the
//! JWKS document pre-serialised, and the verifiers of our own tokens.
//!
//! JWS compact serialisation is written here rather than with `jsonwebtoken::encode`, which
//! rebuilds its signer from the encoded key at every call (≈650 µs per RS256 token against
//! ≈230 µs with the key parsed once). Verification does use `jsonwebtoken`.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use aws_lc_rs::{
    digest::{SHA256, digest},
    encoding::AsDer,
    rand::SystemRandom,
    rsa::KeySize,
    signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
        RsaPublicKeyComponents,
    },
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

/// The algorithms we sign with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: every relying party can verify it, the default.
    RS256,
    /// ECDSA P-256 with SHA-256: for clients registered with it.
    ES256,
}

impl SigningAlg {
    /// Every algorithm we keep a signer for.
    pub const ALL: [SigningAlg; 2] = [SigningAlg::RS256, SigningAlg::ES256];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
        }
    }

    /// From the JOSE name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Self::RS256),
            "ES256" => Some(Self::ES256),
            _ => None,
        }
    }

    fn jwt_algorithm(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::ES256 => Algorithm::ES256,
        }
    }
}

/// A freshly generated key: its private PKCS#8 DER (to be sealed) and public JWK.
pub struct GeneratedKey {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    /// Algorithm.
    pub alg: SigningAlg,
    /// PKCS#8 DER of the private key; seal it before storing.
    pub pkcs8: Vec<u8>,
    /// Public JWK, with `kid`, `alg` and `use`.
    pub public_jwk: Value,
}

/// Why a key could not be generated or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// aws-lc-rs refused the key material.
    #[error("clé {0} inutilisable")]
    Unusable(String),
    /// RSA size not supported.
    #[error("taille de clé RSA non prise en charge : {0}")]
    RsaSize(u32),
}

/// Generates a key for `alg` (RSA of `rsa_bits` for RS256).
pub fn generate(alg: SigningAlg, rsa_bits: u32) -> Result<GeneratedKey, KeyError> {
    let unusable = |_| KeyError::Unusable(alg.as_str().into());
    let (pkcs8, mut jwk) = match alg {
        SigningAlg::RS256 => {
            let size = match rsa_bits {
                2048 => KeySize::Rsa2048,
                3072 => KeySize::Rsa3072,
                4096 => KeySize::Rsa4096,
                other => return Err(KeyError::RsaSize(other)),
            };
            let pair = aws_lc_rs::rsa::KeyPair::generate(size).map_err(unusable)?;
            let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).map_err(unusable)?;
            let pkcs8 = der.as_ref().to_vec();
            let parsed =
                RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| KeyError::Unusable("RS256".into()))?;
            (pkcs8, rsa_jwk(&parsed))
        }
        SigningAlg::ES256 => {
            let pair =
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(unusable)?;
            let pkcs8 = pair.to_pkcs8v1().map_err(unusable)?.as_ref().to_vec();
            (pkcs8, ec_jwk(&pair))
        }
    };
    let kid = thumbprint(&jwk);
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    Ok(GeneratedKey {
        kid,
        alg,
        pkcs8,
        public_jwk: jwk,
    })
}

fn rsa_jwk(pair: &RsaKeyPair) -> Value {
    let components = RsaPublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    json!({ "kty": "RSA", "n": B64.encode(&components.n), "e": B64.encode(&components.e) })
}

fn ec_jwk(pair: &EcdsaKeyPair) -> Value {
    // Uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
    let point = pair.public_key().as_ref();
    json!({ "kty": "EC", "crv": "P-256", "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65]) })
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url): members in lexicographic order, no spaces.
fn thumbprint(jwk: &Value) -> String {
    let canonical = match jwk["kty"].as_str() {
        Some("RSA") => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            jwk["e"].as_str().unwrap_or(""),
            jwk["n"].as_str().unwrap_or("")
        ),
        _ => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["crv"].as_str().unwrap_or(""),
            jwk["x"].as_str().unwrap_or(""),
            jwk["y"].as_str().unwrap_or("")
        ),
    };
    B64.encode(digest(&SHA256, canonical.as_bytes()).as_ref())
}

enum Signer {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private key ready to sign.
pub struct SigningKey {
    /// Key id, in every header it signs.
    pub kid: String,
    /// Algorithm.
    pub alg: SigningAlg,
    signer: Signer,
}

impl SigningKey {
    /// Parses a PKCS#8 DER private key once.
    pub fn from_pkcs8(kid: &str, alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let unusable = |_| KeyError::Unusable(kid.to_owned());
        let signer = match alg {
            SigningAlg::RS256 => Signer::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(unusable)?),
            SigningAlg::ES256 => Signer::Ec(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(unusable)?,
            ),
        };
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            signer,
        })
    }

    /// A compact JWS of `claims` with header `{alg, typ, kid}`.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> String {
        let header = json!({ "alg": self.alg.as_str(), "typ": typ, "kid": self.kid });
        let mut token = B64.encode(serde_json::to_vec(&header).expect("header serialises"));
        token.push('.');
        token.push_str(&B64.encode(serde_json::to_vec(claims).expect("claims serialise")));
        let rng = SystemRandom::new();
        let signature = match &self.signer {
            Signer::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, token.as_bytes(), &mut sig)
                    .expect("RSA signing with a valid key");
                sig
            }
            Signer::Ec(pair) => pair
                .sign(&rng, token.as_bytes())
                .expect("ECDSA signing")
                .as_ref()
                .to_vec(),
        };
        token.push('.');
        token.push_str(&B64.encode(signature));
        token
    }
}

/// What the nodes publish and sign with, rebuilt from the database at each refresh.
pub struct KeySet {
    signers: HashMap<SigningAlg, Arc<SigningKey>>,
    verifiers: HashMap<String, (SigningAlg, DecodingKey)>,
    jwks: Arc<str>,
    /// Every published key id, newest first.
    pub published_kids: Vec<String>,
}

/// Why a token of ours did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No `kid`, or one we do not publish (removed, revoked, or never ours).
    #[error("clé inconnue")]
    UnknownKey,
    /// Bad signature, wrong algorithm, malformed, expired or wrong issuer.
    #[error("jeton invalide : {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
}

impl KeySet {
    /// Builds the set from the published keys' JWKs and the signing keys.
    pub fn new(published: Vec<Value>, signers: Vec<SigningKey>) -> Self {
        let mut verifiers = HashMap::new();
        let mut published_kids = Vec::new();
        for jwk in &published {
            let (Some(kid), Some(alg)) = (
                jwk["kid"].as_str(),
                jwk["alg"].as_str().and_then(SigningAlg::parse),
            ) else {
                continue;
            };
            let key = match alg {
                SigningAlg::RS256 => DecodingKey::from_rsa_components(
                    jwk["n"].as_str().unwrap_or_default(),
                    jwk["e"].as_str().unwrap_or_default(),
                ),
                SigningAlg::ES256 => DecodingKey::from_ec_components(
                    jwk["x"].as_str().unwrap_or_default(),
                    jwk["y"].as_str().unwrap_or_default(),
                ),
            };
            if let Ok(key) = key {
                verifiers.insert(kid.to_owned(), (alg, key));
                published_kids.push(kid.to_owned());
            }
        }
        let jwks = serde_json::to_string(&json!({ "keys": published })).expect("JWKS serialises");
        Self {
            signers: signers.into_iter().map(|k| (k.alg, Arc::new(k))).collect(),
            verifiers,
            jwks: jwks.into(),
            published_kids,
        }
    }

    /// The current signer for `alg`, if any.
    pub fn signer(&self, alg: SigningAlg) -> Option<Arc<SigningKey>> {
        self.signers.get(&alg).cloned()
    }

    /// The JWKS document, serialised once per refresh.
    pub fn jwks_json(&self) -> Arc<str> {
        self.jwks.clone()
    }

    /// Verifies a token we signed with a key still published; `check_exp` off for hints.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
        check_exp: bool,
    ) -> Result<T, VerifyError> {
        let header = jsonwebtoken::decode_header(token)?;
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let (alg, key) = self.verifiers.get(&kid).ok_or(VerifyError::UnknownKey)?;
        let mut validation = Validation::new(alg.jwt_algorithm());
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.validate_exp = check_exp;
        validation.required_spec_claims = ["iss".to_owned()].into_iter().collect();
        validation.leeway = 30;
        Ok(jsonwebtoken::decode::<T>(token, key, &validation)?.claims)
    }
}

/// The key set every request reads, swapped whole at each refresh.
#[derive(Clone)]
pub struct SharedKeySet(Arc<RwLock<Arc<KeySet>>>);

impl SharedKeySet {
    /// Wraps a first key set.
    pub fn new(set: KeySet) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(set))))
    }

    /// The current key set.
    pub fn current(&self) -> Arc<KeySet> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the key set.
    pub fn replace(&self, set: KeySet) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_signed_with_either_algorithm_verify_against_the_published_jwk() {
        for alg in SigningAlg::ALL {
            let key = generate(alg, 2048).unwrap();
            let signer = SigningKey::from_pkcs8(&key.kid, alg, &key.pkcs8).unwrap();
            let set = KeySet::new(vec![key.public_jwk.clone()], vec![signer]);
            let token = set.signer(alg).unwrap().sign(
                "JWT",
                &json!({"iss": "https://idp", "exp": 4_000_000_000u64}),
            );
            let claims: Value = set.verify(&token, "https://idp", true).unwrap();
            assert_eq!(claims["iss"], "https://idp");
            assert!(set.verify::<Value>(&token, "https://other", true).is_err());
            let mut tampered = token.clone();
            tampered.insert(token.find('.').unwrap() + 2, 'A');
            assert!(set.verify::<Value>(&tampered, "https://idp", true).is_err());
        }
    }

    #[test]
    fn the_kid_is_the_rfc7638_thumbprint() {
        // RFC 7638 §3.1 example.
        let jwk = json!({"kty":"RSA","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(
            thumbprint(&jwk),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
