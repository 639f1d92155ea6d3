//! Delete a relying party.

use crate::{
    audit,
    oidc::clients::{self, ClientRefusal},
    store::Db,
};

/// Deletes `client_id` and, by cascade, its consents and grants, with its `client.deleted`
/// event, in one transaction.
pub async fn delete_client(
    db: &Db,
    client_id: &str,
    now: i64,
    actor: &str,
) -> Result<(), ClientRefusal> {
    let mut tx = db.begin().await?;
    if !clients::delete_client_in(&mut tx, client_id).await? {
        return Err(ClientRefusal::Unknown(client_id.to_owned()));
    }
    audit::record(
        &mut tx,
        now,
        actor,
        "client.deleted",
        client_id,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
