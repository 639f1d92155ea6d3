//! A Responsable des accès withdraws the right from a Responsable des accès of one of their
//! establishments, themselves included (« Retirer »,
//! `POST /acces/{service}/gestion/utilisateurs/{id}/responsable/retirer`).

use crate::{
    access::{managers, refusal::AccessRefusal, rules, services::Service},
    accounts::UserId,
    action::{self, Event},
    clock::Clock,
    store::Db,
};

/// Withdraws it in one transaction with its `access_manager.removed` event. The
/// establishment's last Responsable des accès goes only with `confirm_last`: nobody could then
/// grant access there until a new activation code ([`AccessRefusal::LastManager`] otherwise).
pub async fn withdraw_manager(
    db: &Db,
    clock: &Clock,
    by: &UserId,
    service: &Service,
    person: &UserId,
    siret: &str,
    confirm_last: bool,
) -> Result<(), AccessRefusal> {
    let now = clock.now();
    action::in_one_transaction(db, now, async |tx| {
        rules::manages(tx, by, service, siret).await?;
        let holders = managers::of_establishment_in(tx, &service.code, siret).await?;
        if !holders.iter().any(|m| m.user_id == person.as_str()) {
            return Err(AccessRefusal::NotAManager);
        }
        if holders.len() == 1 && !confirm_last {
            return Err(AccessRefusal::LastManager);
        }
        managers::delete_in(tx, person, &service.code, siret).await?;
        let details =
            serde_json::json!({"service": service.code, "siret": siret, "last": confirm_last});
        let event = Event::new(by.as_str(), "access_manager.removed", person.as_str());
        Ok(((), event.with(details)))
    })
    .await
}
