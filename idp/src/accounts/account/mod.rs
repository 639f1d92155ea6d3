//! « Gérer mon compte »: the pages where a logged-in person sees and changes their account
//! (`/compte/…`). One file per action; this module owns what they share: who is logged in,
//! the password re-check and the overview page (the page plumbing, CSRF and `no-store`, is
//! `web::page`'s, re-exported here for these pages).

pub mod delete;
pub mod email;
pub mod password;
pub mod profile;
pub mod sessions;

use askama::Template;
use axum::{
    extract::Query,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{guard::Guard, logged_in::LoggedIn, session::LoginSession, store::User};
pub use crate::web::page::{Page, login_then, safe_return};
use crate::{
    AppState,
    error::PageError,
    mail::messages::{ACCOUNT_PATH, Outgoing},
    web::client_ip::ClientIp,
};

/// The logged-in session of this browser and its account, if both still exist. Pages take
/// [`LoggedIn`] as an argument instead; this is for the pages that render something else
/// without a login.
pub async fn logged_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(LoginSession, User)>, PageError> {
    Ok(LoggedIn::of(state, headers)
        .await?
        .map(|LoggedIn { session, user }| (session, user)))
}

/// Checks the current password typed again on an account page from `ip`. Guarded with the
/// login's tries of this account from that address ([`Guard`]), so these forms are no way
/// around the login's limits.
pub async fn password_matches(
    state: &AppState,
    ip: &ClientIp,
    user: &User,
    password: &str,
) -> Result<bool, PageError> {
    let guard = Guard::new(state, "login", &user.email, ip);
    guard.check().await?;
    let matches = !password.is_empty()
        && state
            .hasher
            .verify(password, user.password_hash.as_deref())
            .await?;
    if matches {
        guard.succeeded().await?;
    } else {
        guard.failed().await?;
    }
    Ok(matches)
}

/// « Alice Martin », for e-mail greetings.
pub fn full_name(user: &User) -> Option<String> {
    let name = format!("{} {}", user.given_name, user.family_name);
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Sends a notice whose failure must not undo what was done: logged, not shown.
pub async fn send_notice(state: &AppState, message: Result<Outgoing, crate::mail::MailError>) {
    let sent = match message {
        Ok(message) => state.mailer.send(&message).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        tracing::warn!(error.message = %e, "account notice e-mail not sent");
    }
}

/// A redirect to the overview with the notice `done` (one of [`notice_of`]'s keys).
pub fn back_to_overview(done: &str) -> Response {
    Redirect::to(&format!("{ACCOUNT_PATH}?fait={done}")).into_response()
}

/// The confirmation shown on the overview after an action (`?fait=…`); unknown keys show none.
fn notice_of(done: &str) -> Option<&'static str> {
    match done {
        "identite" => Some("Vos informations ont été enregistrées."),
        "mot-de-passe" => {
            Some("Votre mot de passe a été modifié. Vos autres sessions ont été fermées.")
        }
        "adresse" => Some("Votre adresse e-mail a été modifiée."),
        "cle-d-acces" => Some("Votre clé d'accès a été ajoutée."),
        "cle-d-acces-supprimee" => Some("La clé d'accès a été supprimée."),
        _ => None,
    }
}

/// « Madame », « Monsieur », or empty.
pub fn civilite_label(gender: Option<&str>) -> &'static str {
    match gender {
        Some("female") => "Madame",
        Some("male") => "Monsieur",
        _ => "",
    }
}

#[derive(Template)]
#[template(path = "account_overview.html")]
struct OverviewPage {
    notice: Option<&'static str>,
    civilite: &'static str,
    family_name: String,
    given_name: String,
    email: String,
    job: String,
    siret: String,
    organization_label: String,
    totp_enrolled: bool,
    /// « Clés d'accès » is shown (the issuer's host is a domain name).
    passkeys_available: bool,
    /// The account's passkeys.
    passkeys: Vec<super::passkeys::store::Listed>,
    /// The version of EFP Connect's CGU accepted last, and when.
    cgu: Option<super::cgu::Acceptance>,
}

/// Query of the overview.
#[derive(Deserialize)]
pub struct OverviewQuery {
    /// Which action was just done.
    #[serde(default)]
    fait: String,
}

/// `GET /compte`: « Gérer mon compte », what the account holds and the actions.
pub async fn show(
    page: Page,
    LoggedIn { user, .. }: LoggedIn,
    Query(q): Query<OverviewQuery>,
) -> Result<Response, PageError> {
    let totp_enrolled = super::totp::is_enrolled(&page.db, &user.id).await?;
    let cgu = super::cgu::accepted(&page.db, &user.id).await?;
    let passkeys_available = super::passkeys::available(&page.config);
    let passkeys = super::passkeys::store::list(&page.db, &user.id).await?;
    page.render(StatusCode::OK, |_| OverviewPage {
        notice: notice_of(&q.fait),
        civilite: civilite_label(user.gender.as_deref()),
        family_name: user.family_name.clone(),
        given_name: user.given_name.clone(),
        email: user.email.clone(),
        job: user.job.clone().unwrap_or_default(),
        siret: user.siret.clone().unwrap_or_default(),
        organization_label: user.organization_label.clone().unwrap_or_default(),
        totp_enrolled,
        passkeys_available,
        passkeys,
        cgu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_return("/compte"), Some("/compte"));
        assert_eq!(
            safe_return("/compte/sessions?x=1"),
            Some("/compte/sessions?x=1")
        );
        for bad in [
            "",
            "compte",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "/a b",
            "/a\nb",
        ] {
            assert_eq!(safe_return(bad), None, "{bad:?}");
        }
    }
}
