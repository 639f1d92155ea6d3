//! A Responsable des accès designates a colleague habilitated there as Responsable des accès
//! of one of their establishments (`POST /acces/{service}/gestion/utilisateurs/{id}/responsable`).

use crate::{
    access::{habilitations::GrantedHow, managers, refusal::AccessRefusal, rules},
    accounts::UserId,
    audit,
    store::Db,
};

/// Grants the right (rules: [`rules::may_manage`], a live habilitation there) and records
/// `access_manager.granted`, in one transaction.
pub async fn designate_manager(
    db: &Db,
    now: i64,
    manager: &UserId,
    service: &str,
    managed: &[String],
    person: &UserId,
    siret: &str,
) -> Result<(), AccessRefusal> {
    if !managed.iter().any(|s| s == siret) {
        return Err(AccessRefusal::NotManagerOf(service.to_owned()));
    }
    let mut tx = db.begin().await?;
    rules::may_manage(&mut tx, manager, service, managed, person).await?;
    rules::habilitated_there(&mut tx, person, service, siret, now).await?;
    managers::grant_in(
        &mut tx,
        person.as_str(),
        service,
        siret,
        Some(manager.as_str()),
        GrantedHow::Delegation,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        manager.as_str(),
        "access_manager.granted",
        person.as_str(),
        serde_json::json!({"service": service, "siret": siret}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
