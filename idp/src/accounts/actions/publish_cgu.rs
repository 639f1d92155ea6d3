//! An operator publishes a new version of EFP Connect's CGU (`idp cgu publish`): the version
//! and `cgu.published` in one transaction. Everyone is asked to accept it at their next login.

use super::AccountRefusal;
use crate::{
    accounts::cgu,
    action::{self, Event},
    store::Db,
};

/// Publishes `title` and `body` (paragraphs separated by blank lines, `## ` for a heading) as
/// the next version; returns its number.
pub async fn publish_cgu(
    db: &Db,
    now: i64,
    actor: &str,
    title: &str,
    body: &str,
) -> Result<i64, AccountRefusal> {
    let (title, body) = (title.trim(), body.trim());
    if title.is_empty() || body.is_empty() {
        return Err(AccountRefusal::EmptyDocument);
    }
    action::in_one_transaction(db, now, async |tx| {
        let version = cgu::publish_in(tx, title, body, now).await?;
        let details = serde_json::json!({ "version": version });
        let event = Event::new(actor, "cgu.published", format!("cgu:{version}")).with(details);
        Ok((version, event))
    })
    .await
}
