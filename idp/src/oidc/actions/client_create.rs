//! Register a relying party.

use crate::{
    action::{self, Event},
    oidc::clients::{self, ClientRefusal, ClientRegistration, RegistrationError},
    store::Db,
};

/// Registers `reg` at `now` with its `client.created` event, in one transaction. Returns the
/// secret (to show once) for a secret method.
pub async fn create_client(
    db: &Db,
    reg: &ClientRegistration,
    now: i64,
    actor: &str,
) -> Result<Option<String>, ClientRefusal> {
    reg.validate()?;
    action::in_one_transaction(db, now, async |tx| {
        let secret = clients::insert_client_in(tx, reg, now)
            .await?
            .ok_or_else(|| RegistrationError::Exists(reg.client_id.clone()))?;
        Ok((secret, Event::new(actor, "client.created", &reg.client_id)))
    })
    .await
}
