//! Start a rotation of one algorithm's signing key.

use super::generate;
use crate::{
    action::{self, Event},
    keys::{
        kek::Kek,
        keyset::SigningAlg,
        refusal::RotationError,
        rules::{KeyPolicy, KeyState, pending_of, signer_of},
        store::{self, KeyRow},
    },
    store::Db,
};

/// A new key of `alg`, published now and signing after the pre-publication period; the current
/// signer retires then and stays published for the retention period. Refused while a rotation
/// of `alg` is pending. One transaction with its `key.rotated` event.
pub async fn rotate(
    db: &Db,
    kek: &Kek,
    policy: &KeyPolicy,
    alg: SigningAlg,
    now: i64,
    actor: &str,
) -> Result<KeyRow, RotationError> {
    let activates_at = now + policy.prepublication_seconds();
    // Generated before the transaction: the write lock is not held while RSA primes are sought.
    let new = generate(kek, policy, alg, now, activates_at).await?;
    action::in_one_transaction(db, now, async |tx| {
        let keys = store::all_keys_in(tx).await?;
        if let Some(pending) = pending_of(&keys, alg, now) {
            return Err(RotationError::WrongState {
                kid: pending.kid.clone(),
                state: KeyState::Pending,
            });
        }
        store::insert_key(tx, &new).await?;
        if let Some(current) = signer_of(&keys, alg, now) {
            let remove_at = activates_at + policy.retention_seconds();
            store::set_retirement(tx, &current.kid, activates_at, remove_at).await?;
        }
        let details = serde_json::json!({"alg": new.alg, "activates_at": activates_at});
        let event = Event::new(actor, "key.rotated", &new.kid).with(details);
        Ok((new, event))
    })
    .await
}
