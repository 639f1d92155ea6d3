//! A Responsable des accès removes a habilitation of one of their establishments
//! (`POST /acces/{service}/gestion/habilitations/{id}/retirer`).

use crate::{
    access::{habilitations, refusal::AccessRefusal},
    accounts::UserId,
    audit,
    store::Db,
};

/// Removes habilitation `h` (already checked by the caller to be in one of the manager's
/// establishments for the service) and records `habilitation.removed`, in one transaction.
pub async fn remove_habilitation(
    db: &Db,
    now: i64,
    manager: &UserId,
    h: &habilitations::Habilitation,
) -> Result<(), AccessRefusal> {
    let mut tx = db.begin().await?;
    habilitations::delete_in(&mut tx, &h.id).await?;
    audit::record(
        &mut tx,
        now,
        manager.as_str(),
        "habilitation.removed",
        &h.user_id,
        serde_json::json!({"service": h.service_code, "siret": h.siret, "role": h.role}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
