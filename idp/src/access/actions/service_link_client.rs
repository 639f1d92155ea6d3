//! Make an OIDC client one of a service's clients.

use crate::{
    access::{
        refusal::{AccessRefusal, ServiceRefusal},
        rules, services,
    },
    audit,
    oidc::clients,
    store::Db,
};

/// Links `client_id` to the service `service` (moving it from another service) at `now`, with
/// its `service.client_linked` event, in one transaction. With `requires_habilitation`, people
/// without a habilitation for the service see the no-access page at login.
pub async fn link_client(
    db: &Db,
    service: &str,
    client_id: &str,
    requires_habilitation: bool,
    now: i64,
    actor: &str,
) -> Result<(), AccessRefusal> {
    let mut tx = db.begin().await?;
    let service = rules::service_exists(&mut tx, service).await?;
    if clients::client_by_id_in(&mut tx, client_id)
        .await?
        .is_none()
    {
        return Err(ServiceRefusal::UnknownClient(client_id.to_owned()).into());
    }
    services::link_client_in(&mut tx, &service.code, client_id, requires_habilitation).await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "service.client_linked",
        &service.code,
        serde_json::json!({"client_id": client_id, "requires_habilitation": requires_habilitation}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
