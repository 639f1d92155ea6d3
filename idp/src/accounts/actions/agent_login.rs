//! « AGENT DU MINISTÈRE »: what a login through an upstream OpenID provider writes, each in one
//! transaction with its audit event: the first login of an agent (account and link), the link
//! of an existing account (after its password was proved), a login through a link, and the
//! failures (an event alone, nothing else written).

use super::{AccountRefusal, UserId, store};
use crate::{
    accounts::{Email, store::NewUser, upstream_links},
    action::{self, Event},
    store::Db,
};

/// Who the upstream says the person is.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UpstreamIdentity {
    /// The configured upstream's short name (audit).
    pub upstream: String,
    /// Its issuer.
    pub issuer: String,
    /// The person's subject there.
    pub subject: String,
}

impl UpstreamIdentity {
    fn details(&self) -> serde_json::Value {
        serde_json::json!({ "upstream": self.upstream, "issuer": self.issuer })
    }
}

/// First login of an agent: creates the account (no password: it logs in upstream) and the
/// link. [`AccountRefusal::EmailTaken`] when the address already has an account (it must be
/// linked, after its password), [`AccountRefusal::AlreadyLinked`] when the subject got linked
/// meanwhile.
pub async fn create_agent(
    db: &Db,
    now: i64,
    who: &UpstreamIdentity,
    email: &Email,
    new: &NewUser,
) -> Result<UserId, AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let Some(user) = store::insert_user_in(tx, email, None, new, now).await? else {
            return Err(AccountRefusal::EmailTaken);
        };
        if !upstream_links::insert_in(tx, &who.issuer, &who.subject, &user, now).await? {
            return Err(AccountRefusal::AlreadyLinked);
        }
        let event = Event::new(user.as_str(), "user.created", user.as_str()).with(who.details());
        Ok((user, event))
    })
    .await
}

/// Links an existing account (whose password the person just proved) to the upstream subject.
pub async fn link_agent(
    db: &Db,
    now: i64,
    who: &UpstreamIdentity,
    user: &UserId,
) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        if !upstream_links::insert_in(tx, &who.issuer, &who.subject, user, now).await? {
            return Err(AccountRefusal::AlreadyLinked);
        }
        let event = Event::new(user.as_str(), "upstream.linked", user.as_str()).with(who.details());
        Ok(((), event))
    })
    .await
}

/// A login through an existing link (`acr`/`amr`: what the upstream said).
pub async fn agent_logged_in(
    db: &Db,
    now: i64,
    who: &UpstreamIdentity,
    user: &UserId,
    acr: Option<&str>,
    amr: &[String],
) -> Result<(), AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        upstream_links::touch_in(tx, &who.issuer, &who.subject, now).await?;
        let mut details = who.details();
        details["acr"] = serde_json::json!(acr);
        details["amr"] = serde_json::json!(amr);
        let event = Event::new(user.as_str(), "upstream.login", user.as_str()).with(details);
        Ok(((), event))
    })
    .await
}

/// A login through `upstream` that failed (`reason`: the stable code; `upstream_error`: the
/// `error` the upstream answered, if it did): the event alone.
pub async fn login_failed(
    db: &Db,
    now: i64,
    upstream: &str,
    reason: &str,
    upstream_error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let details = serde_json::json!({ "reason": reason, "upstream_error": upstream_error });
    crate::audit::record_alone(
        db,
        now,
        "anonymous",
        "upstream.login_failed",
        upstream,
        details,
    )
    .await
}
