//! The end of a login, below the pages that lead to it (password, second factor, CGU): the
//! waiting steps' state and the start of the session. Kept apart from `login.rs` so the CGU page,
//! which `login::finish` may show, can end the login without importing it back.

use axum::response::{IntoResponse, Redirect, Response};

use super::{
    UserId,
    actions::record_login::{LoginContext, record_login},
    session::{LoginSession, ViaUpstream},
    standing,
};
use crate::{
    error::PageError,
    oidc::pending::PendingAuthorization,
    web::page::{Page, safe_return},
};

/// « Votre connexion a expiré » : a login step (second factor, CGU) whose form is too old.
pub(crate) fn expired() -> PageError {
    PageError::bad_request(
        "Votre connexion a expiré. Veuillez saisir à nouveau votre identifiant et votre mot de passe.",
    )
}

/// The state of a login step (second factor, CGU) waiting in the shared store under the random
/// token `step` its form carries, with the key it is stored under; [`expired`] when there is
/// none.
pub(crate) async fn waiting_step<T: serde::de::DeserializeOwned>(
    page: &Page,
    step: &str,
    key_of: fn(&str) -> String,
) -> Result<(String, T), PageError> {
    if step.is_empty() || step.len() > 64 {
        return Err(expired());
    }
    let key = key_of(step);
    let raw = page.ephemeral.get(&key).await?.ok_or_else(expired)?;
    let value = serde_json::from_str(&raw).map_err(|_| expired())?;
    Ok((key, value))
}

/// The one gate every way of logging in goes through (password, second factor, passkey, agent's
/// upstream, new-browser code, CGU) before a session starts: a disabled account starts none.
pub(crate) async fn may_log_in(page: &Page, user: &UserId) -> Result<(), PageError> {
    let standing = standing::of(&page.db.pool, user).await?;
    Ok(standing.ok_or_else(expired)?.may_log_in()?)
}

/// Starts the session of a person authenticated (`amr`: how) with EFP Connect's current CGU
/// accepted, then goes on: back to the waiting authorization request (which asks for a second
/// factor, or its enrolment, when the level it needs is not reached), or to the local `retour`
/// (already checked).
///
/// `upstream`: the upstream provider of an agent's login (« AGENT DU MINISTÈRE ») and how to
/// log out there, if any.
pub(crate) async fn start_session_via(
    page: &Page,
    user_id: &str,
    amr: Vec<String>,
    upstream: Option<ViaUpstream>,
    authreq: &str,
    retour: &str,
) -> Result<Response, PageError> {
    let user = UserId::from_stored(user_id);
    may_log_in(page, &user).await?;
    let (session, cookies) =
        LoginSession::start_via(page, page.headers(), user_id, amr, upstream).await?;
    let pending = PendingAuthorization::load(page, authreq).await?;
    let context = LoginContext {
        client_id: pending.as_ref().map(|p| p.request.client_id.clone()),
        ip: page.client_ip(),
        user_agent: session.user_agent.clone(),
    };
    let now = page.clock.now();
    record_login(&page.db, now, &user, &session.amr, &session.acr, &context).await?;
    tracing::info!(user.id = %user, client.id = context.client_id.as_deref().unwrap_or("-"), "session started");
    let sid = &session.sid;
    let target = match pending {
        Some(pending) => {
            pending.logged_in(page, authreq, sid).await?;
            format!("/authorize/continue?authreq={authreq}")
        }
        None => safe_return(retour).unwrap_or("/").to_owned(),
    };
    let mut response = Redirect::to(&target).into_response();
    cookies.add_to(&mut response);
    Ok(response)
}
