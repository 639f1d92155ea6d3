//! Delete a relying party.

use crate::{
    action::{self, Event},
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
    action::in_one_transaction(db, now, async |tx| {
        if !clients::delete_client_in(tx, client_id).await? {
            return Err(ClientRefusal::Unknown(client_id.to_owned()));
        }
        Ok(((), Event::new(actor, "client.deleted", client_id)))
    })
    .await
}
