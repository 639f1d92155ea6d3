//! `/compte/mot-de-passe`: a new password for a logged-in person, who types the current one
//! again. The rules are the reset's (`Password::parse`, the names, the confirmation).
//! Afterwards every other session of the account ends, every grant is revoked (refresh and
//! access tokens stop working), and the account's address is told by e-mail.

use askama::Template;
use axum::{http::StatusCode, response::Response};
use serde::Deserialize;

use super::{Page, back_to_overview, full_name, password_matches, send_notice};
use crate::accounts::password::check_not_name;
use crate::web::{client_ip::ClientIp, page::CsrfForm};
use crate::{
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
pub async fn show(page: Page, _: LoggedIn) -> Result<Response, PageError> {
    page.render(StatusCode::OK, |csrf| PasswordPage {
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
    page: Page,
    LoggedIn {
        session: current,
        user,
    }: LoggedIn,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, PageError> {
    let again = |field: &'static str, message: String, status: StatusCode| {
        page.render(status, |csrf| PasswordPage {
            csrf,
            error: Some(message),
            invalid: field,
        })
    };
    if !password_matches(&page, &ip, &user, &form.current).await? {
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
    if let Err(e) = check_not_name(&form.password, &[&user.family_name, &user.given_name]) {
        return again("password", e.to_string(), StatusCode::BAD_REQUEST);
    }
    if form.password != form.confirmation {
        return again(
            "confirmation",
            "Les mots de passe ne correspondent pas.".into(),
            StatusCode::BAD_REQUEST,
        );
    }
    let phc = page.hasher.hash(&password).await?;
    let id = UserId::from_stored(user.id.clone());
    let ttl = page.config.tokens.access_token_ttl_seconds;
    change_password(&page.db, page.clock.now(), &id, &phc, ttl).await?;
    page.revocations.changed(&page.db, &page.ephemeral).await?;
    // This browser stays logged in (it just proved the password); every other one is out.
    session::end_others_for_user(&page, &user.id, &current.sid).await?;
    tracing::info!(user.id = %user.id, "password changed");
    if let Ok(to) = Email::parse(&user.email) {
        let name = full_name(&user);
        send_notice(
            &page,
            messages::password_changed(&page.config.issuer, &to, name.as_deref()),
        )
        .await;
    }
    Ok(back_to_overview("mot-de-passe"))
}

crate::with_csrf!(PasswordForm);
