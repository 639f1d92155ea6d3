//! Publish a new version of a service's CGU or charte.

use crate::{
    access::{
        refusal::AccessRefusal,
        rules,
        services::{self, DocumentKind},
    },
    audit,
    store::Db,
};

/// Publishes `title` and `body` as the next version of the service's `kind` document at `now`,
/// with its `service.document_published` event, in one transaction. Returns the version.
pub async fn publish_document(
    db: &Db,
    service: &str,
    kind: DocumentKind,
    title: &str,
    body: &str,
    now: i64,
    actor: &str,
) -> Result<i64, AccessRefusal> {
    rules::document_is_given(title, body)?;
    let mut tx = db.begin().await?;
    let service = rules::service_exists(&mut tx, service).await?;
    let version =
        services::publish_document_in(&mut tx, &service.code, kind, title.trim(), body.trim(), now)
            .await?;
    audit::record(
        &mut tx,
        now,
        actor,
        "service.document_published",
        &service.code,
        serde_json::json!({"kind": kind.as_str(), "version": version}),
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}
