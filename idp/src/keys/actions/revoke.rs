//! Remove a compromised key at once.

use super::{create_signer, ensure_signers::ensure_signers_in, find, keep_signer};
use crate::{
    action::{self, Event},
    keys::{
        kek::Kek,
        keyset::SigningAlg,
        refusal::RotationError,
        rules::{KeyPolicy, KeyState, is_signer, pending_of},
        store,
    },
    store::Db,
};

/// Revokes `kid` now; if it was signing, its successor (the pending key, or a new key) signs
/// from now on. The successor is made signer before the key is revoked, in the same
/// transaction as the `key.revoked` event: no node ever loads a set without a signer, and a
/// failure leaves the keys as they were. Returns the keys created.
pub async fn revoke(
    db: &Db,
    kek: &Kek,
    policy: &KeyPolicy,
    kid: &str,
    now: i64,
    actor: &str,
) -> Result<Vec<String>, RotationError> {
    action::in_one_transaction(db, now, async |tx| {
        let keys = store::all_keys_in(tx).await?;
        let key = find(&keys, kid)?;
        if key.revoked_at.is_some() {
            return Err(RotationError::WrongState {
                kid: kid.into(),
                state: KeyState::Revoked,
            });
        }
        if KeyState::of(key, now) == KeyState::Pending {
            keep_signer(tx, &keys, key, now).await?;
        }
        let mut created = Vec::new();
        if let Some(alg) = SigningAlg::parse(&key.alg)
            && is_signer(&keys, key, now)
        {
            match pending_of(&keys, alg, now) {
                Some(pending) => store::set_activation(tx, &pending.kid, now).await?,
                None => created.push(create_signer(tx, kek, policy, alg, now).await?),
            }
        }
        store::set_revoked(tx, kid, now).await?;
        created.extend(ensure_signers_in(tx, kek, policy, now).await?);
        Ok((created, Event::new(actor, "key.revoked", kid)))
    })
    .await
}
