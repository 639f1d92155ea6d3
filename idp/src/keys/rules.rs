//! The rules of a key's life: its timing policy, its state at a given time, and which key signs.
//! Pure functions of the stored keys: the actions (`keys/actions/`) and the loader apply them.

use std::time::Duration;

use serde::Serialize;

use super::{keyset::SigningAlg, store::KeyRow};

/// Timing rules of the key lifecycle, from configuration.
#[derive(Clone, Copy, Debug)]
pub struct KeyPolicy {
    /// Published this long before signing.
    pub prepublication: Duration,
    /// Published this long after it stopped signing (longest token lifetime + margin).
    pub retention: Duration,
    /// The scheduler rotates a signer this old (zero: never).
    pub rotation_interval: Duration,
    /// RSA modulus size.
    pub rsa_bits: u32,
}

impl KeyPolicy {
    /// From the configuration.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            prepublication: Duration::from_secs(config.keys.prepublication_seconds),
            retention: config.longest_signed_token_lifetime()
                + Duration::from_secs(config.keys.retention_margin_seconds),
            rotation_interval: Duration::from_secs(config.keys.rotation_interval_seconds),
            rsa_bits: config.keys.rsa_bits,
        }
    }

    /// The pre-publication period, in seconds.
    pub fn prepublication_seconds(&self) -> i64 {
        secs(self.prepublication)
    }

    /// The retention period, in seconds.
    pub fn retention_seconds(&self) -> i64 {
        secs(self.retention)
    }

    /// Whether a signer that started signing at `activates_at` is due for rotation at `now`.
    pub fn rotation_due(&self, activates_at: i64, now: i64) -> bool {
        !self.rotation_interval.is_zero() && now - activates_at >= secs(self.rotation_interval)
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Where a key is in its life at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published, not yet signing.
    Pending,
    /// Published and signing (the newest active key of its algorithm signs).
    Active,
    /// Published, no longer signing: tokens it signed still verify.
    Retiring,
    /// Out of the JWKS: tokens it signed are refused.
    Removed,
    /// Compromised and removed at once.
    Revoked,
}

impl KeyState {
    /// The state of `key` at `now` (seconds).
    pub fn of(key: &KeyRow, now: i64) -> Self {
        if key.revoked_at.is_some() {
            Self::Revoked
        } else if key.remove_at.is_some_and(|t| t <= now) {
            Self::Removed
        } else if key.retired_at.is_some_and(|t| t <= now) {
            Self::Retiring
        } else if key.activates_at > now {
            Self::Pending
        } else {
            Self::Active
        }
    }

    /// Whether the key appears in the JWKS.
    pub fn is_published(self) -> bool {
        matches!(self, Self::Pending | Self::Active | Self::Retiring)
    }
}

/// The key that signs for `alg` at `now`: the newest active one.
pub fn signer_of(keys: &[KeyRow], alg: SigningAlg, now: i64) -> Option<&KeyRow> {
    keys.iter()
        .filter(|k| k.alg == alg.as_str() && KeyState::of(k, now) == KeyState::Active)
        .max_by_key(|k| (k.activates_at, k.created_at))
}

/// The pending key of `alg` that signs next.
pub fn pending_of(keys: &[KeyRow], alg: SigningAlg, now: i64) -> Option<&KeyRow> {
    keys.iter()
        .filter(|k| k.alg == alg.as_str() && KeyState::of(k, now) == KeyState::Pending)
        .min_by_key(|k| k.activates_at)
}

/// Whether `kid` is the key signing for its algorithm at `now`.
pub fn is_signer(keys: &[KeyRow], key: &KeyRow, now: i64) -> bool {
    SigningAlg::parse(&key.alg)
        .and_then(|alg| signer_of(keys, alg, now))
        .is_some_and(|s| s.kid == key.kid)
}

/// Another key of the same algorithm that can sign in place of `key` (active or pending).
pub fn successor_of<'k>(keys: &'k [KeyRow], key: &KeyRow, now: i64) -> Option<&'k KeyRow> {
    keys.iter().find(|k| {
        k.kid != key.kid
            && k.alg == key.alg
            && matches!(KeyState::of(k, now), KeyState::Active | KeyState::Pending)
    })
}

/// When a pending key is withdrawn before it signs, the signer whose retirement the rotation
/// scheduled for the handover must keep signing (unless another key is pending): that signer.
pub fn signer_to_keep<'k>(keys: &'k [KeyRow], withdrawn: &KeyRow, now: i64) -> Option<&'k KeyRow> {
    let alg = SigningAlg::parse(&withdrawn.alg)?;
    let other_pending = keys.iter().any(|k| {
        k.kid != withdrawn.kid
            && k.alg == withdrawn.alg
            && KeyState::of(k, now) == KeyState::Pending
    });
    signer_of(keys, alg, now).filter(|signer| signer.retired_at.is_some() && !other_pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, alg: SigningAlg, activates_at: i64, retired_at: Option<i64>) -> KeyRow {
        KeyRow {
            kid: kid.into(),
            alg: alg.as_str().into(),
            public_jwk: String::new(),
            private_key: Vec::new(),
            created_at: 0,
            activates_at,
            retired_at,
            remove_at: retired_at.map(|t| t + 100),
            revoked_at: None,
        }
    }

    #[test]
    fn the_newest_active_key_signs_and_the_earliest_pending_one_is_next() {
        let keys = [
            key("old", SigningAlg::RS256, 0, Some(50)),
            key("current", SigningAlg::RS256, 10, None),
            key("next", SigningAlg::RS256, 100, None),
            key("later", SigningAlg::RS256, 200, None),
            key("ec", SigningAlg::ES256, 0, None),
        ];
        assert_eq!(
            signer_of(&keys, SigningAlg::RS256, 20).unwrap().kid,
            "current"
        );
        assert_eq!(
            pending_of(&keys, SigningAlg::RS256, 20).unwrap().kid,
            "next"
        );
        assert_eq!(
            signer_of(&keys, SigningAlg::RS256, 150).unwrap().kid,
            "next"
        );
        assert!(is_signer(&keys, &keys[4], 20));
        assert!(
            !is_signer(&keys, &keys[0], 60),
            "a retiring key no longer signs"
        );
        assert_eq!(KeyState::of(&keys[0], 60), KeyState::Retiring);
        assert_eq!(KeyState::of(&keys[0], 150), KeyState::Removed);
    }

    #[test]
    fn a_withdrawn_pending_key_keeps_the_signer_whose_retirement_it_scheduled() {
        let keys = [
            key("current", SigningAlg::RS256, 0, Some(100)),
            key("next", SigningAlg::RS256, 100, None),
        ];
        assert_eq!(signer_to_keep(&keys, &keys[1], 50).unwrap().kid, "current");
        assert_eq!(successor_of(&keys, &keys[0], 50).unwrap().kid, "next");
        let with_another = [
            keys[0].clone(),
            keys[1].clone(),
            key("other", SigningAlg::RS256, 150, None),
        ];
        assert!(
            signer_to_keep(&with_another, &with_another[1], 50).is_none(),
            "another pending key still takes over"
        );
    }

    #[test]
    fn rotation_is_due_after_the_interval_and_never_with_a_zero_interval() {
        let policy = |interval| KeyPolicy {
            prepublication: Duration::from_secs(10),
            retention: Duration::from_secs(20),
            rotation_interval: Duration::from_secs(interval),
            rsa_bits: 2048,
        };
        assert!(policy(100).rotation_due(0, 100));
        assert!(!policy(100).rotation_due(0, 99));
        assert!(!policy(0).rotation_due(0, 1_000_000));
    }
}
