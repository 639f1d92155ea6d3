//! The key-encryption key: private signing keys are stored encrypted under it (AES-256-GCM,
//! the `kid` as associated data so a ciphertext cannot be moved to another key's row).
//!
//! It can change (docs/operations.md, « Changing the key-encryption key »): the configuration
//! names the current KEK, which seals, and the previous ones (`keys.previous_keks`), which still
//! open, so nodes with either keep working while `idp keys rewrap` re-seals everything under the
//! current one. The keys derived for other purposes (activation-code hashes, CSRF, anti-robot)
//! come from a derivation root recorded once, sealed, in the database
//! ([`crate::keys::store::derivation_root`]), not from the KEK itself: they do not change with
//! it, or every code hashed before the change would stop matching.

use std::path::Path;

use aws_lc_rs::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    hmac,
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine, engine::general_purpose::STANDARD};

/// The key-encryption key, never logged: the current one, the previous ones that still open,
/// and the root of labelled derived keys.
pub struct Kek {
    current: LessSafeKey,
    previous: Vec<LessSafeKey>,
    derivation: hmac::Key,
    /// The current KEK's bytes: the derivation root of an installation that recorded none yet
    /// (what [`Kek::derive`] always used, so nothing derived before changes).
    bytes: [u8; 32],
}

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
        let bytes = decode(encoded)?;
        Ok(Self {
            current: aead_key(&bytes)?,
            previous: Vec::new(),
            derivation: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
            bytes,
        })
    }

    /// With the previous KEKs (base64), which still open what they sealed until
    /// `idp keys rewrap` re-seals it under the current one.
    pub fn with_previous(mut self, encoded: &[String]) -> Result<Self, KekError> {
        for e in encoded.iter().filter(|e| !e.trim().is_empty()) {
            self.previous.push(aead_key(&decode(e)?)?);
        }
        Ok(self)
    }

    /// With the installation's derivation root ([`crate::keys::store::derivation_root`]).
    #[must_use]
    pub fn with_derivation_root(mut self, root: &[u8]) -> Self {
        self.derivation = hmac::Key::new(hmac::HMAC_SHA256, root);
        self
    }

    /// The derivation root of an installation that recorded none yet: the current KEK's bytes.
    pub fn first_derivation_root(&self) -> [u8; 32] {
        self.bytes
    }

    /// How many previous KEKs still open.
    pub fn previous_count(&self) -> usize {
        self.previous.len()
    }

    /// A 32-byte key for one purpose, `HMAC-SHA256(root, label)`: other secrets (the
    /// anti-robot check's) without another file to keep, and independent of each other.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&self.derivation, label.as_bytes()).as_ref());
        out
    }

    /// `nonce || ciphertext || tag`, bound to `kid`.
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("system randomness");
        let mut in_out = plaintext.to_vec();
        self.current
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

    /// The plaintext of [`Kek::seal`], if it was sealed for this `kid` under the current KEK or
    /// a previous one.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, KekError> {
        self.open_under(kid, sealed).map(|(plain, _)| plain)
    }

    /// [`Kek::open`], and whether it was sealed under the current KEK.
    pub fn open_under(&self, kid: &str, sealed: &[u8]) -> Result<(Vec<u8>, bool), KekError> {
        if sealed.len() < NONCE_LEN {
            return Err(KekError::Decrypt);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        for (i, key) in std::iter::once(&self.current)
            .chain(&self.previous)
            .enumerate()
        {
            let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KekError::Decrypt)?;
            let mut in_out = ciphertext.to_vec();
            if let Ok(plain) = key.open_in_place(nonce, Aad::from(kid.as_bytes()), &mut in_out) {
                return Ok((plain.to_vec(), i == 0));
            }
        }
        Err(KekError::Decrypt)
    }
}

fn decode(encoded: &str) -> Result<[u8; 32], KekError> {
    STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or(KekError::Malformed)
}

fn aead_key(bytes: &[u8; 32]) -> Result<LessSafeKey, KekError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| KekError::Malformed)
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

    #[test]
    fn a_previous_kek_still_opens_and_the_current_one_seals() {
        let (old, new) = (STANDARD.encode([7u8; 32]), STANDARD.encode([8u8; 32]));
        let before = Kek::from_base64(&old).unwrap();
        let sealed = before.seal("kid-1", b"secret");
        let during = Kek::from_base64(&new)
            .unwrap()
            .with_previous(std::slice::from_ref(&old))
            .unwrap();
        assert_eq!(
            during.open_under("kid-1", &sealed).unwrap(),
            (b"secret".to_vec(), false)
        );
        let resealed = during.seal("kid-1", b"secret");
        assert!(
            during.open_under("kid-1", &resealed).unwrap().1,
            "under the current one"
        );
        assert!(
            before.open("kid-1", &resealed).is_err(),
            "sealed under the new one"
        );
        assert!(
            Kek::from_base64(&new)
                .unwrap()
                .with_previous(&["court".into()])
                .is_err()
        );
    }

    #[test]
    fn derived_keys_follow_the_derivation_root_not_the_kek() {
        let (old, new) = (STANDARD.encode([7u8; 32]), STANDARD.encode([8u8; 32]));
        let before = Kek::from_base64(&old).unwrap();
        let root = before.first_derivation_root();
        assert_eq!(
            before.derive("label"),
            Kek::from_base64(&old)
                .unwrap()
                .with_derivation_root(&root)
                .derive("label"),
            "an installation's first root derives what the KEK derived before"
        );
        let after = Kek::from_base64(&new).unwrap().with_derivation_root(&root);
        assert_eq!(after.derive("label"), before.derive("label"));
        assert_ne!(after.derive("label"), after.derive("other"));
    }
}
