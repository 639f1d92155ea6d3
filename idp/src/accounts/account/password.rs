//! `/compte/mot-de-passe`: a new password for a logged-in person, who types the current one
//! again. The rules are the reset's (`Password::parse` and the confirmation). Afterwards every
//! other session of the account ends, every grant is revoked (refresh and access tokens stop
//! working), and the account's address is told by e-mail.

use askama::Template;
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Deserialize;

use super::{back_to_overview, full_name, password_matches, render, send_notice};
use crate::web::page::CsrfForm;
use crate::{
    AppState,
    accounts::logged_in::LoggedIn,
    accounts::{Email, Password, UserId, actions::change_password::change_password, session},
    error::PageError,
    mail::messages,
};

/// The page.
pub const PATH: &str = "/compte/mot-de-passe";

#[derive(Template)]
#[template(path = "account_password.html")]
struct PasswordPage {
    csrf: String,
    error: Option<String>,
    /// The field the error concerns: `current`, `password`, `confirmation` or `""`.
    invalid: &'static str,
}

/// `GET /compte/mot-de-passe`: the form.
pub async fn show(
    State(state): State<AppState>,
    _: LoggedIn,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    render(&state, &headers, StatusCode::OK, |csrf| PasswordPage {
        csrf,
        error: None,
        invalid: "",
    })
}

/// Fields of the form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    csrf: String,
    current: String,
    password: String,
    confirmation: String,
}

/// `POST /compte/mot-de-passe`: checks the current password, then sets the new one.
pub async fn submit(
    State(state): State<AppState>,
    LoggedIn {
        session: current,
        user,
    }: LoggedIn,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let again = |field: &'static str, message: String, status: StatusCode| {
        render(&state, &headers, status, |csrf| PasswordPage {
            csrf,
            error: Some(message),
            invalid: field,
        })
    };
    if !password_matches(&state, &user, &form.current).await? {
        return again(
            "current",
            "Le mot de passe actuel est incorrect.".into(),
            StatusCode::UNAUTHORIZED,
        );
    }
    let password = match Password::parse(&form.password) {
        Ok(password) => password,
        Err(e) => return again("password", e.to_string(), StatusCode::BAD_REQUEST),
    };
    if form.password != form.confirmation {
        return again(
            "confirmation",
            "Les mots de passe ne correspondent pas.".into(),
            StatusCode::BAD_REQUEST,
        );
    }
    let phc = state.hasher.hash(&password).await?;
    let id = UserId::from_stored(user.id.clone());
    let ttl = state.config.tokens.access_token_ttl_seconds;
    change_password(&state.db, state.clock.now(), &id, &phc, ttl).await?;
    state
        .revocations
        .changed(&state.db, &state.ephemeral)
        .await?;
    // This browser stays logged in (it just proved the password); every other one is out.
    session::end_others_for_user(&state, &user.id, &current.sid).await?;
    tracing::info!(user.id = %user.id, "password changed");
    if let Ok(to) = Email::parse(&user.email) {
        let name = full_name(&user);
        send_notice(
            &state,
            messages::password_changed(&state.config.issuer, &to, name.as_deref()),
        )
        .await;
    }
    Ok(back_to_overview("mot-de-passe"))
}

crate::with_csrf!(PasswordForm);
