//! A Responsable des accès withdraws a Responsable des accès right (« Retirer »), their own
//! included (`POST /acces/{service}/gestion/utilisateurs/{id}/responsable/retirer`).

use crate::{
    access::{managers, refusal::AccessRefusal, rules},
    accounts::UserId,
    audit,
    store::Db,
};

/// Withdraws `person`'s right for `siret` (rules: [`rules::may_manage`], the last one only
/// confirmed) and records `access_manager.removed`, in one transaction.
#[allow(clippy::too_many_arguments)]
pub async fn withdraw_manager(
    db: &Db,
    now: i64,
    manager: &UserId,
    service: &str,
    managed: &[String],
    person: &UserId,
    siret: &str,
    confirm_last: bool,
) -> Result<(), AccessRefusal> {
    if !managed.iter().any(|s| s == siret) {
        return Err(AccessRefusal::NotManagerOf(service.to_owned()));
    }
    let mut tx = db.begin().await?;
    rules::may_manage(&mut tx, manager, service, managed, person).await?;
    rules::may_withdraw_right(&mut tx, person, service, siret, confirm_last).await?;
    managers::delete_in(&mut tx, person.as_str(), service, siret).await?;
    audit::record(
        &mut tx,
        now,
        manager.as_str(),
        "access_manager.removed",
        person.as_str(),
        serde_json::json!({"service": service, "siret": siret, "last": confirm_last}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
