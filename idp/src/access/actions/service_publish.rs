//! Publish a new version of a service's CGU or charte.

use crate::{
    access::{
        refusal::AccessRefusal,
        rules,
        services::{self, DocumentKind},
    },
    action::{self, Event},
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
    action::in_one_transaction(db, now, async |tx| {
        let service = rules::service_exists(tx, service).await?;
        let (title, body) = (title.trim(), body.trim());
        let version =
            services::publish_document_in(tx, &service.code, kind, title, body, now).await?;
        let details = serde_json::json!({"kind": kind.as_str(), "version": version});
        let event = Event::new(actor, "service.document_published", service.code);
        Ok((version, event.with(details)))
    })
    .await
}
