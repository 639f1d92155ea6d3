//! Access tokens whose signature was checked already on this node, so that a token presented
//! again (a resource server introspecting each call, a client calling userinfo) costs a hash
//! and a lookup instead of a signature verification (RS256: ≈25 µs, ES256: ≈55 µs).
//!
//! Only what the signature proves is kept: the claims, for as long as the token has not
//! expired and the key set that verified it is still the node's. Everything that can change
//! during a token's life — its revocation (and so its grant's, and its account's: disabling an
//! account revokes its grants), its client's registration — is checked at every use after the
//! lookup, exactly as after a verification ([`super::tokens::verify_access_token`]): a cached
//! token is never answered active once revoked, on any node.

use std::sync::{Arc, Weak};

use aws_lc_rs::digest::{SHA256, digest};

use crate::keys::keyset::KeySet;

/// Tokens remembered at most: ≈1 KiB each (the key and the claims), about 16 MiB in all.
pub const CAPACITY: usize = 16_384;

struct Entry<C> {
    /// The key set that verified it: a new one (reloaded every refresh interval, a key retired
    /// or revoked) makes it unknown. Weak: an entry does not keep an old key set's keys alive,
    /// and the allocation it points to cannot be reused by a later key set while it is held.
    keys: Weak<KeySet>,
    /// Its expiry (seconds).
    exp: i64,
    claims: Arc<C>,
}

// Not derived: a derive would ask `C: Clone`, where only the `Arc` is cloned.
impl<C> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Self {
            keys: self.keys.clone(),
            exp: self.exp,
            claims: self.claims.clone(),
        }
    }
}

/// The cache's key for a token: its SHA-256 (the token itself is not kept).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    /// The key of `token`.
    pub fn of(token: &str) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        Self(out)
    }
}

/// The node's verified tokens, keyed by the SHA-256 of the token (the token itself is not
/// kept), bounded by [`CAPACITY`] (least recently used ones go first). `C` is what the
/// signature proved (`tokens::AccessClaims`).
pub struct VerifiedTokens<C>(Arc<quick_cache::sync::Cache<TokenKey, Entry<C>>>);

impl<C> Clone for VerifiedTokens<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<C> Default for VerifiedTokens<C> {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl<C> VerifiedTokens<C> {
    /// A cache of at most `capacity` tokens.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Arc::new(quick_cache::sync::Cache::new(capacity.max(1))))
    }

    /// The claims of the token of `key` if it was verified by `keys` and has not expired at
    /// `now`.
    pub fn get(&self, key: TokenKey, keys: &Arc<KeySet>, now: i64) -> Option<Arc<C>> {
        let entry = self.0.get(&key)?;
        if std::ptr::eq(entry.keys.as_ptr(), Arc::as_ptr(keys)) && now < entry.exp {
            Some(entry.claims)
        } else {
            self.0.remove(&key);
            None
        }
    }

    /// Remembers that `keys` verified the token of `key`, whose claims are `claims` and which
    /// expires at `exp`.
    pub fn insert(&self, key: TokenKey, keys: &Arc<KeySet>, exp: i64, claims: Arc<C>) {
        let keys = Arc::downgrade(keys);
        self.0.insert(key, Entry { keys, exp, claims });
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Arc<String> {
        Arc::new("claims".to_owned())
    }

    #[test]
    fn a_token_is_known_only_with_the_key_set_that_verified_it_and_until_it_expires() {
        let cache = VerifiedTokens::<String>::with_capacity(8);
        let keys = Arc::new(KeySet::new(Vec::new(), Vec::new()));
        let t1 = TokenKey::of("t1");
        cache.insert(t1, &keys, 100, claims());
        assert_eq!(
            cache.get(t1, &keys, 99).as_deref().map(String::as_str),
            Some("claims")
        );
        assert!(
            cache.get(TokenKey::of("t2"), &keys, 99).is_none(),
            "another token"
        );
        let other_keys = Arc::new(KeySet::new(Vec::new(), Vec::new()));
        assert!(cache.get(t1, &other_keys, 99).is_none(), "new key set");
        assert!(cache.is_empty(), "forgotten once its key set is gone");
        cache.insert(t1, &keys, 100, claims());
        assert!(cache.get(t1, &keys, 100).is_none(), "expired");
        assert!(cache.is_empty(), "forgotten once expired");
        // A key set dropped (replaced at a reload): its tokens are unknown to the next one.
        let old_keys = Arc::new(KeySet::new(Vec::new(), Vec::new()));
        cache.insert(t1, &old_keys, 100, claims());
        drop(old_keys);
        let next_keys = Arc::new(KeySet::new(Vec::new(), Vec::new()));
        assert!(
            cache.get(t1, &next_keys, 99).is_none(),
            "verified by a key set now gone"
        );
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let cache = VerifiedTokens::<String>::with_capacity(100);
        let keys = Arc::new(KeySet::new(Vec::new(), Vec::new()));
        for i in 0..1000 {
            cache.insert(TokenKey::of(&format!("t{i}")), &keys, 100, claims());
        }
        assert!(cache.len() <= 100, "{} entries", cache.len());
    }
}
