//! Register a relying party.

use crate::{
    audit,
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
    let mut tx = db.begin().await?;
    let secret = clients::insert_client_in(&mut tx, reg, now)
        .await?
        .ok_or_else(|| RegistrationError::Exists(reg.client_id.clone()))?;
    audit::record(
        &mut tx,
        now,
        actor,
        "client.created",
        &reg.client_id,
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(secret)
}
