//! Stop a key signing now.

use super::{find, keep_signer};
use crate::{
    action::{self, Event},
    keys::{
        refusal::RotationError,
        rules::{KeyPolicy, KeyState, is_signer, successor_of},
        store,
    },
    store::Db,
};

/// Stops `kid` signing now; it stays published for the retention period. A signer hands over
/// to its successor at once; refused when it is its algorithm's only signer and no pending key
/// can take over. One transaction with its `key.retired` event.
pub async fn retire(
    db: &Db,
    policy: &KeyPolicy,
    kid: &str,
    now: i64,
    actor: &str,
) -> Result<(), RotationError> {
    action::in_one_transaction(db, now, async |tx| {
        let keys = store::all_keys_in(tx).await?;
        let key = find(&keys, kid)?;
        let state = KeyState::of(key, now);
        if !matches!(state, KeyState::Active | KeyState::Pending) {
            return Err(RotationError::WrongState {
                kid: kid.into(),
                state,
            });
        }
        if is_signer(&keys, key, now) {
            match successor_of(&keys, key, now) {
                // A pending successor has been published since its creation: it may sign now.
                Some(next) => {
                    store::set_activation(tx, &next.kid, now.min(next.activates_at)).await?;
                }
                None => {
                    let alg = crate::keys::SigningAlg::parse(&key.alg)
                        .unwrap_or(crate::keys::SigningAlg::RS256);
                    return Err(RotationError::LastSigner(kid.into(), alg.as_str()));
                }
            }
        }
        if state == KeyState::Pending {
            keep_signer(tx, &keys, key, now).await?;
        }
        store::set_retirement(tx, kid, now, now + policy.retention_seconds()).await?;
        Ok(((), Event::new(actor, "key.retired", kid)))
    })
    .await
}
