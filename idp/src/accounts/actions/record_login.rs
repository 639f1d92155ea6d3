//! Record a login (`login.succeeded`): the account's last login and the audit event — how (the
//! methods, the level reached), for which client, from which address and browser — in one
//! transaction, as the session starts. A failed or refused login is recorded alone
//! ([`login_refused`]): it changes nothing.

use serde_json::json;

use super::{AccountRefusal, UserId, store};
use crate::{action::Event, audit, store::Db};

/// Where a login came from, for the audit trail (never a secret, never the e-mail).
#[derive(Debug, Clone, Default)]
pub struct LoginContext {
    /// The client the login is for, if it came from an authorization request.
    pub client_id: Option<String>,
    /// The client's address.
    pub ip: Option<std::net::IpAddr>,
    /// Its `User-Agent`, cut short.
    pub user_agent: String,
}

impl LoginContext {
    fn details(&self) -> serde_json::Value {
        json!({
            "client_id": self.client_id,
            "ip": self.ip.map(|ip| ip.to_string()),
            "user_agent": self.user_agent,
        })
    }
}

/// Records the successful login of `user` by `amr` reaching `acr`.
pub async fn record_login(
    db: &Db,
    now: i64,
    user: &UserId,
    amr: &[String],
    acr: &str,
    context: &LoginContext,
) -> Result<(), AccountRefusal> {
    crate::action::in_one_transaction(db, now, async |tx| {
        store::set_last_login_in(tx, user, now).await?;
        let mut details = context.details();
        details["amr"] = json!(amr);
        details["acr"] = json!(acr);
        let event = Event::new(user.as_str(), "login.succeeded", user.as_str()).with(details);
        Ok(((), event))
    })
    .await
}

/// Records a login refused at `now`: `target` is the account if there is one (`inconnu`
/// otherwise: the typed address is not kept), `reason` the refusal's code
/// (`bad_credentials`, `account_disabled`…), `method` what was tried (`pwd`, `hwk`…).
pub async fn login_refused(
    db: &Db,
    now: i64,
    target: Option<&UserId>,
    reason: &str,
    method: &str,
    context: &LoginContext,
) -> Result<(), sqlx::Error> {
    let mut details = context.details();
    details["reason"] = json!(reason);
    details["method"] = json!(method);
    let target = target.map_or("inconnu", UserId::as_str);
    audit::record_alone(db, now, "system", "login.failed", target, details).await
}
