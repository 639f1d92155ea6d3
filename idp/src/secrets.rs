//! Random tokens, their hashes, and constant-time comparison: the one place where secrets are
//! made and compared.

use aws_lc_rs::{
    digest::{SHA256, digest},
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};

/// `bytes` random bytes, base64url without padding (32 bytes: 256 bits, 43 characters).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .expect("system randomness");
    B64.encode(buf)
}

/// Six random digits, every code equally likely (the top of the `u32` range is drawn again).
pub fn six_digits() -> String {
    let rng = SystemRandom::new();
    loop {
        let mut buf = [0u8; 4];
        rng.fill(&mut buf).expect("system randomness");
        let n = u32::from_le_bytes(buf);
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// SHA-256 of `value`, base64url: how codes and tokens are keyed and stored.
pub fn hash(value: &str) -> String {
    B64.encode(digest(&SHA256, value.as_bytes()).as_ref())
}

/// Constant-time equality of two byte strings (the length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// PKCE S256: base64url(SHA-256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    hash(verifier)
}

/// Left half of SHA-256 of `token`, base64url: `at_hash` for RS256 and ES256 ID tokens.
pub fn half_hash(token: &str) -> String {
    let d = digest(&SHA256, token.as_bytes());
    B64.encode(&d.as_ref()[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (random_token(32), random_token(32));
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert!(constant_time_eq(a.as_bytes(), a.as_bytes()));
        assert!(!constant_time_eq(a.as_bytes(), b.as_bytes()));
    }
}
