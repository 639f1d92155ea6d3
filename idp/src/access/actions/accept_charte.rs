//! A Responsable des accès accepts the « Charte du responsable des accès » of the service for an
//! establishment (`POST /acces/{service}/charte`).

use crate::{
    access::{
        refusal::AccessRefusal,
        services::{self, DocumentKind},
    },
    accounts::UserId,
    audit,
    clock::Clock,
    organizations::Siret,
    store::Db,
};

/// Records, in one transaction with its `charte.accepted` event, that `by` accepted the
/// current version of the service's charte for `siret` (accepting again keeps the first date).
/// Returns the version accepted. Whether `by` manages `siret` is the caller's check (the page
/// shows the charte only to them).
pub async fn accept_charte(
    db: &Db,
    clock: &Clock,
    by: &UserId,
    service_code: &str,
    siret: &Siret,
) -> Result<i64, AccessRefusal> {
    let now = clock.now();
    let doc = services::current_document(db, service_code, DocumentKind::Charte)
        .await?
        .ok_or(AccessRefusal::NoCharte)?;
    let mut tx = db.begin().await?;
    services::accept_document_in(
        &mut tx,
        by,
        service_code,
        DocumentKind::Charte,
        doc.version,
        siret,
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        by.as_str(),
        "charte.accepted",
        siret.as_str(),
        serde_json::json!({"service": service_code, "version": doc.version}),
    )
    .await?;
    tx.commit().await?;
    Ok(doc.version)
}
