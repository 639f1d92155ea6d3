//! Give a secret client a new secret.

use crate::{
    action::{self, Event},
    oidc::clients::{self, ClientRefusal},
    store::Db,
};

/// Replaces the secret of `client_id` at `now`, with its `client.secret_rotated` event, in one
/// transaction. Returns the new secret, to show once.
pub async fn rotate_secret(
    db: &Db,
    client_id: &str,
    now: i64,
    actor: &str,
) -> Result<String, ClientRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let secret = clients::rotate_secret_in(tx, client_id, now)
            .await?
            .ok_or_else(|| ClientRefusal::NoSecret(client_id.to_owned()))?;
        Ok((
            secret,
            Event::new(actor, "client.secret_rotated", client_id),
        ))
    })
    .await
}
