//! Change a relying party's registration.

use crate::{
    action::{self, Event},
    oidc::clients::{self, ClientRefusal, ClientRegistration},
    store::Db,
};

/// Replaces the registration of `reg.client_id` (not its secret) at `now`, with its
/// `client.updated` event, in one transaction.
pub async fn update_client(
    db: &Db,
    reg: &ClientRegistration,
    now: i64,
    actor: &str,
) -> Result<(), ClientRefusal> {
    reg.validate()?;
    action::in_one_transaction(db, now, async |tx| {
        let current = clients::client_by_id_in(tx, &reg.client_id)
            .await?
            .ok_or_else(|| ClientRefusal::Unknown(reg.client_id.clone()))?;
        current.may_become(reg)?;
        if !clients::update_client_in(tx, reg, now).await? {
            return Err(ClientRefusal::Unknown(reg.client_id.clone()));
        }
        Ok(((), Event::new(actor, "client.updated", &reg.client_id)))
    })
    .await
}
