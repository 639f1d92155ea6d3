//! Make an OIDC client one of a service's clients.

use crate::{
    access::{
        refusal::{AccessRefusal, ServiceRefusal},
        rules, services,
    },
    action::{self, Event},
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
    action::in_one_transaction(db, now, async |tx| {
        let service = rules::service_exists(tx, service).await?;
        if clients::client_by_id_in(tx, client_id).await?.is_none() {
            return Err(ServiceRefusal::UnknownClient(client_id.to_owned()).into());
        }
        services::link_client_in(tx, &service.code, client_id, requires_habilitation).await?;
        let details =
            serde_json::json!({"client_id": client_id, "requires_habilitation": requires_habilitation});
        let event = Event::new(actor, "service.client_linked", service.code).with(details);
        Ok(((), event))
    })
    .await
}
