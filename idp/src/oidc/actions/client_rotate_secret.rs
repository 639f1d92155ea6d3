//! Give a secret client a new secret.

use crate::{
    audit,
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
    let mut tx = db.begin().await?;
    let secret = clients::rotate_secret_in(&mut tx, client_id, now)
        .await?
        .ok_or_else(|| ClientRefusal::NoSecret(client_id.to_owned()))?;
    audit::record(
        &mut tx,
        now,
        actor,
        "client.secret_rotated",
        client_id,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}
