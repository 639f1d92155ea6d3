//! Give every algorithm a signer (a fresh install, or after a revocation).

use super::create_signer;
use crate::{
    keys::{
        kek::Kek,
        keyset::SigningAlg,
        refusal::RotationError,
        rules::{KeyPolicy, pending_of, signer_of},
        store,
    },
    store::Db,
};

/// Creates keys active at once where no key of an algorithm is active or pending, and starts a
/// pending key now where nothing signs. One transaction with the `key.created` events; returns
/// the keys created.
pub async fn ensure_signers(
    db: &Db,
    kek: &Kek,
    policy: &KeyPolicy,
    now: i64,
) -> Result<Vec<String>, RotationError> {
    let mut tx = db.begin().await?;
    let created = ensure_signers_in(&mut tx, kek, policy, now).await?;
    tx.commit().await?;
    Ok(created)
}

/// [`ensure_signers`] within an action's transaction.
pub(super) async fn ensure_signers_in(
    conn: &mut sqlx::AnyConnection,
    kek: &Kek,
    policy: &KeyPolicy,
    now: i64,
) -> Result<Vec<String>, RotationError> {
    let keys = store::all_keys_in(conn).await?;
    let mut created = Vec::new();
    for alg in SigningAlg::ALL {
        if signer_of(&keys, alg, now).is_some() {
            continue;
        }
        if let Some(pending) = pending_of(&keys, alg, now) {
            // Nothing signs: the pending key must start now rather than leave a gap.
            store::set_activation(conn, &pending.kid, now).await?;
            continue;
        }
        created.push(create_signer(conn, kek, policy, alg, now).await?);
    }
    Ok(created)
}
