//! The key-encryption key: private signing keys are stored encrypted under it (AES-256-GCM,
//! the `kid` as associated data so a ciphertext cannot be moved to another key's row).

use std::path::Path;

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    hmac,
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine, engine::general_purpose::STANDARD};

/// The key-encryption key, never logged; also the root of labelled derived keys.
pub struct Kek(LessSafeKey, hmac::Key);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(***)")
    }
}

/// Why the key-encryption key or a private key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KekError {
    /// Not 32 bytes of base64.
    #[error("clé de chiffrement des clés invalide : 32 octets encodés en base64 attendus")]
    Malformed,
    /// The key file could not be read or written.
    #[error("fichier de clé de chiffrement {path} : {source}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A stored private key does not decrypt under this KEK (wrong KEK, or tampered row).
    #[error("clé privée indéchiffrable avec la clé de chiffrement configurée")]
    Decrypt,
}

impl Kek {
    /// From configuration if given, else from `<dir>/kek.key`, created (mode 0600) on first start.
    pub fn load(configured: Option<&str>, dir: &Path) -> Result<Self, KekError> {
        if let Some(encoded) = configured.filter(|s| !s.trim().is_empty()) {
            return Self::from_base64(encoded);
        }
        let path = dir.join("kek.key");
        let file_err = |source| KekError::File {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(encoded) => Self::from_base64(&encoded),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(file_err)?;
                let mut bytes = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut bytes)
                    .map_err(|_| KekError::Malformed)?;
                let encoded = STANDARD.encode(bytes);
                write_private(&path, &encoded).map_err(file_err)?;
                Self::from_base64(&encoded)
            }
            Err(e) => Err(file_err(e)),
        }
    }

    /// From 32 bytes encoded in standard base64.
    pub fn from_base64(encoded: &str) -> Result<Self, KekError> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| KekError::Malformed)?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| KekError::Malformed)?;
        Ok(Self(
            LessSafeKey::new(key),
            hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        ))
    }

    /// A 32-byte key for one purpose, `HMAC-SHA256(KEK, label)`: other secrets (the
    /// anti-robot check's) without another file to keep, and independent of each other.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&self.1, label.as_bytes()).as_ref());
        out
    }

    /// `nonce || ciphertext || tag`, bound to `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("system randomness");
        let mut in_out = plaintext.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut in_out,
            )
            .expect("AES-GCM sealing of a key-sized buffer");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&in_out);
        out
    }

    /// The plaintext of [`Kek::seal`], if it was sealed under this KEK for this `kid`.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, KekError> {
        if sealed.len() < NONCE_LEN {
            return Err(KekError::Decrypt);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KekError::Decrypt)?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut in_out)
            .map_err(|_| KekError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_under_its_kid() {
        let kek = Kek::from_base64(&STANDARD.encode([7u8; 32])).unwrap();
        let sealed = kek.seal("kid-1", b"secret");
        assert_eq!(kek.open("kid-1", &sealed).unwrap(), b"secret");
        assert!(kek.open("kid-2", &sealed).is_err());
        let other = Kek::from_base64(&STANDARD.encode([8u8; 32])).unwrap();
        assert!(other.open("kid-1", &sealed).is_err());
    }
}
