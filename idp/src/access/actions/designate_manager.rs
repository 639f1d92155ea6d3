//! A Responsable des accès designates a colleague habilitated for one of their establishments
//! as Responsable des accès there (`POST /acces/{service}/gestion/utilisateurs/{id}/responsable`).

use crate::{
    access::{
        habilitations::GrantedHow, managers, refusal::AccessRefusal, rules, services::Service,
    },
    accounts::UserId,
    action::{self, Event},
    clock::Clock,
    organizations::Siret,
    store::Db,
};

/// Gives the right in one transaction with its `access_manager.granted` event.
pub async fn designate_manager(
    db: &Db,
    clock: &Clock,
    by: &UserId,
    service: &Service,
    person: &UserId,
    siret: &Siret,
) -> Result<(), AccessRefusal> {
    let now = clock.now();
    action::in_one_transaction(db, now, async |tx| {
        rules::manages(tx, by, service, siret.as_str()).await?;
        rules::may_manage(tx, by, service, person).await?;
        rules::may_become_manager(tx, person, service, siret.as_str()).await?;
        let how = GrantedHow::Delegation;
        managers::insert_in(tx, person, &service.code, siret, Some(by), how, now).await?;
        let details = serde_json::json!({"service": service.code, "siret": siret.as_str()});
        let event = Event::new(by.as_str(), "access_manager.granted", person.as_str());
        Ok(((), event.with(details)))
    })
    .await
}
