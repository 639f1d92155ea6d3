//! Remember a browser confirmed by the e-mailed code of a login (`/connexion/navigateur`):
//! the browser is recorded and `browser.verified` audited, in one transaction.

use super::{AccountRefusal, UserId};
use crate::{
    accounts::browsers::store,
    action::{self, Event},
    store::Db,
};

/// Records that `user` confirmed the browser whose cookie token hashes to `token_hash`.
pub async fn remember_browser(
    db: &Db,
    now: i64,
    user: &UserId,
    token_hash: &str,
    label: &str,
) -> Result<(), AccountRefusal> {
    let id = crate::secrets::random_token(12);
    action::in_one_transaction(db, now, async |tx| {
        store::insert_in(tx, user, &id, token_hash, label, now).await?;
        let event = Event::new(user.as_str(), "browser.verified", &id)
            .with(serde_json::json!({ "browser": label }));
        Ok(((), event))
    })
    .await
}
