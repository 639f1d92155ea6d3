//! A Responsable des accès designates a colleague habilitated for one of their establishments
//! as Responsable des accès there (`POST /acces/{service}/gestion/utilisateurs/{id}/responsable`).

use crate::{
    access::{
        habilitations::GrantedHow, managers, refusal::AccessRefusal, rules, services::Service,
    },
    accounts::UserId,
    audit,
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
    let mut tx = db.begin().await?;
    rules::manages(&mut tx, by, service, siret.as_str()).await?;
    rules::may_manage(&mut tx, by, service, person).await?;
    rules::may_become_manager(&mut tx, person, service, siret.as_str()).await?;
    managers::insert_in(
        &mut tx,
        person,
        &service.code,
        siret,
        Some(by),
        GrantedHow::Delegation,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        by.as_str(),
        "access_manager.granted",
        person.as_str(),
        serde_json::json!({"service": service.code, "siret": siret.as_str()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
