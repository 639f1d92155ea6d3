//! `/compte/suppression`: the owner deletes their account. They prove who they are again
//! (password, and a TOTP or recovery code when the account has a second factor) and tick
//! « Je comprends que cette suppression est définitive ». Then the account and everything
//! hanging on it go in one transaction (`actions::delete_account`: tokens, grants,
//! consents, second factor, with the logout tokens of the person's live sessions queued for
//! the clients they logged into), every session ends, the address gets a last e-mail, and the
//! audit trail keeps an `account.deleted` event.

use askama::Template;
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;

use super::{Page, full_name, password_matches, send_notice};
use crate::web::{client_ip::ClientIp, page::CsrfForm};
use crate::{
    accounts::logged_in::LoggedIn,
    accounts::{
        Email, UserId,
        actions::delete_account::{Deleter, delete_account},
        session, totp,
    },
    error::PageError,
    mail::messages,
};

/// The page.
pub const PATH: &str = "/compte/suppression";

#[derive(Template)]
#[template(path = "account_delete.html")]
struct DeletePage {
    csrf: String,
    totp_enrolled: bool,
    error: Option<String>,
    /// `confirmation`, `password`, `code` or `""`.
    invalid: &'static str,
}

#[derive(Template)]
#[template(path = "account_deleted.html")]
struct DeletedPage;

/// `GET /compte/suppression`: the form.
pub async fn show(page: Page, LoggedIn { user, .. }: LoggedIn) -> Result<Response, PageError> {
    let totp_enrolled = totp::is_enrolled(&page.db, &user.id).await?;
    page.render(StatusCode::OK, |csrf| DeletePage {
        csrf,
        totp_enrolled,
        error: None,
        invalid: "",
    })
}

/// Fields of the form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DeleteForm {
    csrf: String,
    password: String,
    /// TOTP or recovery code, for an account with a second factor.
    code: String,
    /// The « définitive » box: present (`on`) only when ticked.
    confirmation: Option<String>,
}

/// `POST /compte/suppression`: checks who is asking, then deletes the account.
pub async fn submit(
    page: Page,
    LoggedIn { user, .. }: LoggedIn,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<DeleteForm>,
) -> Result<Response, PageError> {
    let totp_enrolled = totp::is_enrolled(&page.db, &user.id).await?;
    let again = |field: &'static str, message: &str, status: StatusCode| {
        page.render(status, |csrf| DeletePage {
            csrf,
            totp_enrolled,
            error: Some(message.to_owned()),
            invalid: field,
        })
    };
    if form.confirmation.as_deref() != Some("on") {
        return again(
            "confirmation",
            "Cochez la case « Je comprends que cette suppression est définitive » pour supprimer votre compte.",
            StatusCode::BAD_REQUEST,
        );
    }
    if !password_matches(&page, &ip, &user, &form.password).await? {
        return again(
            "password",
            "Le mot de passe actuel est incorrect.",
            StatusCode::UNAUTHORIZED,
        );
    }
    if totp_enrolled
        && !totp::verify_second_factor(&page, &ip, &user.id, &user.email, &form.code).await?
    {
        return again(
            "code",
            "Code de vérification incorrect.",
            StatusCode::UNAUTHORIZED,
        );
    }
    let id = UserId::from_stored(user.id.clone());
    let ttl = page.config.tokens.access_token_ttl_seconds;
    // The clients each live session logged into are found from the grants, which the
    // deletion removes: the action queues their logout tokens in its own transaction.
    let sessions: Vec<_> = session::list_for_user(&page, &user.id)
        .await?
        .iter()
        .map(session::LoginSession::ended)
        .collect();
    let by = Deleter::Owner {
        sessions: &sessions,
    };
    if delete_account(&page.db, page.clock.now(), &id, by, ttl).await? > 0 {
        page.backchannel.wake();
    }
    page.revocations.changed(&page.db, &page.ephemeral).await?;
    session::end_all_for_user(&page, &user.id).await?;
    let clear = session::end(&page, page.headers()).await?;
    tracing::info!(user.id = %user.id, "account deleted by its owner");
    if let Ok(to) = Email::parse(&user.email) {
        let name = full_name(&user);
        let notice = messages::account_deleted(&page.config.issuer, &to, name.as_deref());
        send_notice(&page, notice).await;
    }
    deleted_page(clear)
}

/// « Votre compte a été supprimé », clearing the session cookie.
fn deleted_page(clear: session::SessionCookies) -> Result<Response, PageError> {
    let body = DeletedPage
        .render()
        .map_err(|e| PageError::internal("account template", &e))?;
    let mut response = Html(body).into_response();
    clear.add_to(&mut response);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

crate::with_csrf!(DeleteForm);
