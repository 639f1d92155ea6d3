//! Key lifecycle: what is published, what signs, when to rotate.
//!
//! Every node reloads the key set from the database every `keys.refresh_interval_seconds`;
//! since a new key is published `keys.prepublication_seconds` before it signs (longer than the
//! refresh interval), every node and every relying party that refreshes its JWKS knows a key
//! before any token signed with it exists. The scheduled rotation runs on the one node holding
//! the scheduler lease in the shared store. The changes are the actions of `keys/actions/`
//! (re-exported here); the rules are `keys/rules.rs`.

use serde::Serialize;

pub use super::{
    actions::{ensure_signers::ensure_signers, retire::retire, revoke::revoke, rotate::rotate},
    refusal::RotationError,
    rules::{KeyPolicy, KeyState},
};
use super::{
    kek::Kek,
    keyset::{KeySet, SigningAlg, SigningKey},
    rules::{pending_of, signer_of},
    store,
};
use crate::store::Db;

/// A key as the CLI and the metrics show it.
#[derive(Clone, Debug, Serialize)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// State now.
    pub state: KeyState,
    /// Created at (seconds).
    pub created_at: i64,
    /// Signs from.
    pub activates_at: i64,
    /// Stops signing at.
    pub retired_at: Option<i64>,
    /// Leaves the JWKS at.
    pub remove_at: Option<i64>,
    /// Revoked at.
    pub revoked_at: Option<i64>,
}

/// Lists every key with its state at `now`.
pub async fn list(db: &Db, now: i64) -> Result<Vec<KeyInfo>, RotationError> {
    Ok(store::all_keys(db)
        .await?
        .into_iter()
        .map(|k| KeyInfo {
            state: KeyState::of(&k, now),
            kid: k.kid,
            alg: k.alg,
            created_at: k.created_at,
            activates_at: k.activates_at,
            retired_at: k.retired_at,
            remove_at: k.remove_at,
            revoked_at: k.revoked_at,
        })
        .collect())
}

/// The scheduler's work: rotate every signer older than the rotation interval (each rotation
/// its own action).
pub async fn scheduled_rotation(
    db: &Db,
    kek: &Kek,
    policy: &KeyPolicy,
    now: i64,
) -> Result<Vec<String>, RotationError> {
    if policy.rotation_interval.is_zero() {
        return Ok(Vec::new());
    }
    let keys = store::all_keys(db).await?;
    let mut rotated = Vec::new();
    for alg in SigningAlg::ALL {
        let due =
            signer_of(&keys, alg, now).is_some_and(|s| policy.rotation_due(s.activates_at, now));
        if due && pending_of(&keys, alg, now).is_none() {
            rotated.push(rotate(db, kek, policy, alg, now, "scheduler").await?.kid);
        }
    }
    Ok(rotated)
}

/// Builds the in-memory key set for `now`: published JWKs, and each algorithm's signer parsed.
pub async fn load(db: &Db, kek: &Kek, now: i64) -> Result<KeySet, RotationError> {
    let keys = store::all_keys(db).await?;
    let mut published = Vec::new();
    let mut signers = Vec::new();
    for key in &keys {
        if KeyState::of(key, now).is_published()
            && let Ok(jwk) = serde_json::from_str(&key.public_jwk)
        {
            published.push(jwk);
        }
    }
    for alg in SigningAlg::ALL {
        if let Some(row) = signer_of(&keys, alg, now) {
            let pkcs8 = kek.open(&row.kid, &row.private_key)?;
            signers.push(SigningKey::from_pkcs8(&row.kid, alg, &pkcs8)?);
        }
    }
    Ok(KeySet::new(published, signers))
}
