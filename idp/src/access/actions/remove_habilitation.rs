//! A Responsable des accès removes a habilitation of one of their establishments
//! (`POST /acces/{service}/gestion/habilitations/{id}/retirer`).

use crate::{
    access::{
        habilitations::{self, Habilitation},
        refusal::AccessRefusal,
        rules,
        services::Service,
    },
    accounts::UserId,
    action::{self, Event},
    clock::Clock,
    store::Db,
};

/// Removes it in one transaction with its `habilitation.removed` event; a habilitation of
/// another service is not found, one of another establishment is refused. Returns what was
/// removed, for the e-mail.
pub async fn remove_habilitation(
    db: &Db,
    clock: &Clock,
    by: &UserId,
    service: &Service,
    habilitation_id: &str,
) -> Result<Habilitation, AccessRefusal> {
    let now = clock.now();
    action::in_one_transaction(db, now, async |tx| {
        let found = habilitations::by_id_in(tx, habilitation_id)
            .await?
            .filter(|h| h.service_code == service.code)
            .ok_or(AccessRefusal::NoSuchHabilitation)?;
        rules::manages(tx, by, service, &found.siret).await?;
        habilitations::remove_in(tx, &found.id).await?;
        let details =
            serde_json::json!({"service": service.code, "siret": found.siret, "role": found.role});
        let event = Event::new(by.as_str(), "habilitation.removed", &found.user_id);
        Ok((found, event.with(details)))
    })
    .await
}
