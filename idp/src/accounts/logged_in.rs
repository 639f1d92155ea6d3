//! [`LoggedIn`]: the person logged in on this browser, as a handler argument. « Mon compte »
//! and the second-factor pages take it instead of looking the session up by hand; without a
//! live session (or with a session whose account is gone) the answer is the login page, which
//! comes back to the page afterwards.

use axum::{
    extract::FromRequestParts,
    http::request::Parts,
    response::{IntoResponse, Response},
};

use super::{
    passkeys,
    session::LoginSession,
    store::{self as users, User},
    totp,
};
use crate::{AppState, web::page::login_then};

/// The logged-in session of this browser and its account.
pub struct LoggedIn {
    /// The session.
    pub session: LoginSession,
    /// Its account.
    pub user: User,
}

impl LoggedIn {
    /// The session of these headers and its account, if both still exist.
    pub async fn of(
        state: &AppState,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<Self>, crate::error::PageError> {
        let Some((key, session)) = LoginSession::stored(state, headers).await? else {
            return Ok(None);
        };
        // The account is read anyway: its standing comes with it, no second read.
        let user = users::user_by_id(&state.db, &session.user_id).await?;
        let standing = user.as_ref().map(|u| u.standing);
        let Some(session) = session.if_holds(state, &key, standing).await? else {
            return Ok(None);
        };
        Ok(user.map(|user| Self { session, user }))
    }
}

/// The page a login started from `path` comes back to: the page itself, or for the one URL
/// that is only posted to, the page that holds its form.
fn return_to(path: &str) -> &str {
    match path {
        totp::DISABLE_PATH => totp::PATH,
        passkeys::REGISTER_PATH | passkeys::REMOVE_PATH => crate::mail::messages::ACCOUNT_PATH,
        other => other,
    }
}

impl FromRequestParts<AppState> for LoggedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match Self::of(state, &parts.headers).await {
            Ok(Some(logged_in)) => Ok(logged_in),
            Ok(None) => Err(login_then(return_to(parts.uri.path()))),
            Err(e) => Err(e.into_response()),
        }
    }
}
