//! Key lifecycle decisions: what is published, what signs, when to rotate.
//!
//! Every node reloads the key set from the database every `keys.refresh_interval_seconds`;
//! since a new key is published `keys.prepublication_seconds` before it signs (longer than the
//! refresh interval), every node and every relying party that refreshes its JWKS knows a key
//! before any token signed with it exists. The scheduled rotation runs on the one node holding
//! the scheduler lease in the shared store.

use std::time::Duration;

use serde::Serialize;

use super::{
    kek::{Kek, KekError},
    keyset::{self, KeyError, KeySet, SigningAlg, SigningKey},
    store::{self, KeyRow},
};
use crate::{audit, store::Db};

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

/// A lifecycle operation that cannot be done.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// Database failure.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Key material failure.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Sealed key that does not open.
    #[error(transparent)]
    Kek(#[from] KekError),
    /// No such key.
    #[error("aucune clé « {0} »")]
    UnknownKey(String),
    /// The key is past the state the operation needs.
    #[error("la clé « {kid} » est déjà {state:?}")]
    WrongState {
        /// Key id.
        kid: String,
        /// Its state.
        state: KeyState,
    },
    /// Retiring would leave an algorithm without signer.
    #[error("la clé « {0} » est la seule à signer en {1} : lancez d'abord « idp keys rotate »")]
    LastSigner(String, &'static str),
}

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

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
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

/// The key that signs for `alg` at `now`: the newest active one.
fn signer_of(keys: &[KeyRow], alg: SigningAlg, now: i64) -> Option<&KeyRow> {
    keys.iter()
        .filter(|k| k.alg == alg.as_str() && KeyState::of(k, now) == KeyState::Active)
        .max_by_key(|k| (k.activates_at, k.created_at))
}

fn pending_of(keys: &[KeyRow], alg: SigningAlg, now: i64) -> Option<&KeyRow> {
    keys.iter()
        .filter(|k| k.alg == alg.as_str() && KeyState::of(k, now) == KeyState::Pending)
        .min_by_key(|k| k.activates_at)
}

async fn create(
    db: &Db,
    kek: &Kek,
    policy: &KeyPolicy,
    alg: SigningAlg,
    now: i64,
    activates_at: i64,
) -> Result<KeyRow, RotationError> {
    let bits = policy.rsa_bits;
    // RSA key generation takes tens of milliseconds: keep it off the async workers.
    let generated = tokio::task::spawn_blocking(move || keyset::generate(alg, bits))
        .await
        .map_err(|_| KeyError::Unusable(alg.as_str().into()))??;
    let row = KeyRow {
        private_key: kek.seal(&generated.kid, &generated.pkcs8),
        kid: generated.kid,
        alg: alg.as_str().into(),
        public_jwk: generated.public_jwk.to_string(),
        created_at: now,
        activates_at,
        retired_at: None,
        remove_at: None,
        revoked_at: None,
    };
    store::insert_key(db, &row).await?;
    Ok(row)
}

/// Gives every algorithm a signer, creating keys active at once where none is active or
/// pending (a fresh install, or after a revocation). Returns the keys created.
pub async fn ensure_signers(
    db: &Db,
    kek: &Kek,
    policy: &KeyPolicy,
    now: i64,
) -> Result<Vec<String>, RotationError> {
    let keys = store::all_keys(db).await?;
    let mut created = Vec::new();
    for alg in SigningAlg::ALL {
        if signer_of(&keys, alg, now).is_some() {
            continue;
        }
        if let Some(pending) = pending_of(&keys, alg, now) {
            // Nothing signs: the pending key must start now rather than leave a gap.
            store::set_activation(db, &pending.kid, now).await?;
            continue;
        }
        let row = create(db, kek, policy, alg, now, now).await?;
        audit::record_on_pool(
            db,
            "system",
            "key.created",
            &row.kid,
            serde_json::json!({"alg": row.alg}),
        )
        .await?;
        created.push(row.kid);
    }
    Ok(created)
}

/// Starts a rotation for `alg`: a new key published now, signing after the pre-publication
/// period; the current signer retires then and stays published for the retention period.
pub async fn rotate(
    db: &Db,
    kek: &Kek,
    policy: &KeyPolicy,
    alg: SigningAlg,
    now: i64,
    actor: &str,
) -> Result<KeyRow, RotationError> {
    let keys = store::all_keys(db).await?;
    if let Some(pending) = pending_of(&keys, alg, now) {
        return Err(RotationError::WrongState {
            kid: pending.kid.clone(),
            state: KeyState::Pending,
        });
    }
    let current = signer_of(&keys, alg, now).cloned();
    let activates_at = now + secs(policy.prepublication);
    let new = create(db, kek, policy, alg, now, activates_at).await?;
    if let Some(current) = current {
        store::set_retirement(
            db,
            &current.kid,
            activates_at,
            activates_at + secs(policy.retention),
        )
        .await?;
    }
    audit::record_on_pool(
        db,
        actor,
        "key.rotated",
        &new.kid,
        serde_json::json!({"alg": new.alg, "activates_at": activates_at}),
    )
    .await?;
    Ok(new)
}

/// Stops a key signing now; it stays published for the retention period. Refused when it is
/// its algorithm's only signer and no pending key can take over.
pub async fn retire(
    db: &Db,
    policy: &KeyPolicy,
    kid: &str,
    now: i64,
    actor: &str,
) -> Result<(), RotationError> {
    let keys = store::all_keys(db).await?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| RotationError::UnknownKey(kid.into()))?;
    let state = KeyState::of(key, now);
    if !matches!(state, KeyState::Active | KeyState::Pending) {
        return Err(RotationError::WrongState {
            kid: kid.into(),
            state,
        });
    }
    let alg = SigningAlg::parse(&key.alg).unwrap_or(SigningAlg::RS256);
    let is_signer = signer_of(&keys, alg, now).is_some_and(|s| s.kid == kid);
    if is_signer {
        let successor = keys.iter().find(|k| {
            k.kid != kid
                && k.alg == key.alg
                && matches!(KeyState::of(k, now), KeyState::Active | KeyState::Pending)
        });
        match successor {
            // A pending successor has been published since its creation: it may sign now.
            Some(next) => store::set_activation(db, &next.kid, now.min(next.activates_at)).await?,
            None => return Err(RotationError::LastSigner(kid.into(), alg.as_str())),
        }
    }
    if state == KeyState::Pending {
        keep_signer(db, &keys, key, now).await?;
    }
    store::set_retirement(db, kid, now, now + secs(policy.retention)).await?;
    audit::record_on_pool(db, actor, "key.retired", kid, serde_json::json!({})).await?;
    Ok(())
}

/// A pending key is withdrawn before it signs: the signer it was to replace, whose retirement
/// [`rotate`] scheduled for the handover, keeps signing (unless another key is pending).
async fn keep_signer(
    db: &Db,
    keys: &[KeyRow],
    withdrawn: &KeyRow,
    now: i64,
) -> Result<(), RotationError> {
    let Some(alg) = SigningAlg::parse(&withdrawn.alg) else {
        return Ok(());
    };
    let other_pending = keys.iter().any(|k| {
        k.kid != withdrawn.kid
            && k.alg == withdrawn.alg
            && KeyState::of(k, now) == KeyState::Pending
    });
    if let Some(signer) = signer_of(keys, alg, now)
        && signer.retired_at.is_some()
        && !other_pending
    {
        store::clear_retirement(db, &signer.kid).await?;
    }
    Ok(())
}

/// Removes a compromised key at once; if it was signing, a replacement starts signing now.
pub async fn revoke(
    db: &Db,
    kek: &Kek,
    policy: &KeyPolicy,
    kid: &str,
    now: i64,
    actor: &str,
) -> Result<Vec<String>, RotationError> {
    let keys = store::all_keys(db).await?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| RotationError::UnknownKey(kid.into()))?;
    if key.revoked_at.is_some() {
        return Err(RotationError::WrongState {
            kid: kid.into(),
            state: KeyState::Revoked,
        });
    }
    if KeyState::of(key, now) == KeyState::Pending {
        keep_signer(db, &keys, key, now).await?;
    }
    // The successor signs before the key is revoked: a node reloading its keys between the
    // two writes would otherwise find no signer for this algorithm until its next reload.
    let mut created = Vec::new();
    if let Some(alg) = SigningAlg::parse(&key.alg)
        && signer_of(&keys, alg, now).is_some_and(|s| s.kid == kid)
    {
        match pending_of(&keys, alg, now) {
            Some(pending) => store::set_activation(db, &pending.kid, now).await?,
            None => {
                let row = create(db, kek, policy, alg, now, now).await?;
                audit::record_on_pool(
                    db,
                    "system",
                    "key.created",
                    &row.kid,
                    serde_json::json!({"alg": row.alg}),
                )
                .await?;
                created.push(row.kid);
            }
        }
    }
    store::set_revoked(db, kid, now).await?;
    audit::record_on_pool(db, actor, "key.revoked", kid, serde_json::json!({})).await?;
    created.extend(ensure_signers(db, kek, policy, now).await?);
    Ok(created)
}

/// The scheduler's work: rotate every signer older than the rotation interval.
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
        let due = signer_of(&keys, alg, now)
            .is_some_and(|s| now - s.activates_at >= secs(policy.rotation_interval));
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
