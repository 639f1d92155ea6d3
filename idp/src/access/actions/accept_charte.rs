//! A Responsable des accès accepts the « Charte du responsable des accès » of the service for an
//! establishment (`POST /acces/{service}/charte`).

use crate::{
    access::{
        refusal::AccessRefusal,
        services::{self, DocumentKind},
    },
    accounts::UserId,
    action::{self, Event},
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
    let (kind, version) = (DocumentKind::Charte, doc.version);
    action::in_one_transaction(db, now, async |tx| {
        services::accept_document_in(tx, by, service_code, kind, version, siret, now).await?;
        let details = serde_json::json!({"service": service_code, "version": version});
        let event = Event::new(by.as_str(), "charte.accepted", siret.as_str()).with(details);
        Ok((version, event))
    })
    .await
}
