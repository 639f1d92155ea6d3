//! The key use cases, one file each (see `crate::action`): each runs in one transaction with
//! its audit events, so a failure leaves the keys as they were.

pub mod ensure_signers;
pub mod retire;
pub mod revoke;
pub mod rewrap;
pub mod rotate;

use super::{
    kek::Kek,
    keyset::{self, KeyError, SigningAlg},
    refusal::RotationError,
    rules::KeyPolicy,
    store::{self, KeyRow},
};
use crate::audit;

/// Generates a key of `alg`, sealed, published from `now` and signing from `activates_at`
/// (not stored yet). RSA generation takes tens of milliseconds: it runs off the async workers.
async fn generate(
    kek: &Kek,
    policy: &KeyPolicy,
    alg: SigningAlg,
    now: i64,
    activates_at: i64,
) -> Result<KeyRow, RotationError> {
    let bits = policy.rsa_bits;
    let generated = tokio::task::spawn_blocking(move || keyset::generate(alg, bits))
        .await
        .map_err(|_| KeyError::Unusable(alg.as_str().into()))??;
    Ok(KeyRow {
        private_key: kek.seal(&generated.kid, &generated.pkcs8),
        kid: generated.kid,
        alg: alg.as_str().into(),
        public_jwk: generated.public_jwk.to_string(),
        created_at: now,
        activates_at,
        retired_at: None,
        remove_at: None,
        revoked_at: None,
    })
}

/// Stores a key that signs at once, with its `key.created` event (by `system`).
async fn create_signer(
    conn: &mut sqlx::AnyConnection,
    kek: &Kek,
    policy: &KeyPolicy,
    alg: SigningAlg,
    now: i64,
) -> Result<String, RotationError> {
    let row = generate(kek, policy, alg, now, now).await?;
    store::insert_key(conn, &row).await?;
    audit::record(
        conn,
        now,
        "system",
        "key.created",
        &row.kid,
        serde_json::json!({"alg": row.alg}),
    )
    .await?;
    Ok(row.kid)
}

/// A pending key is withdrawn before it signs: the signer it was to replace, whose retirement
/// the rotation scheduled for the handover, keeps signing (unless another key is pending).
async fn keep_signer(
    conn: &mut sqlx::AnyConnection,
    keys: &[KeyRow],
    withdrawn: &KeyRow,
    now: i64,
) -> Result<(), RotationError> {
    if let Some(signer) = super::rules::signer_to_keep(keys, withdrawn, now) {
        store::clear_retirement(conn, &signer.kid).await?;
    }
    Ok(())
}

/// The key `kid` among `keys`, or the refusal.
fn find<'k>(keys: &'k [KeyRow], kid: &str) -> Result<&'k KeyRow, RotationError> {
    keys.iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| RotationError::UnknownKey(kid.into()))
}
