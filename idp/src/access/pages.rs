//! What the access pages share: the service named in the URL, the logged-in person, and the
//! way back to the relying party (a pending authorization request, or the service's home).

use axum::{
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::services::{self, Service};
use crate::{
    AppState,
    accounts::{account::logged_in, session::LoginSession, store::User},
    error::PageError,
    oidc::authorize::PendingAuthorization,
    web::page::{Page, login_then},
};

/// `?authreq=…&siret=…` carried through the access pages.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccessQuery {
    /// A pending authorization request to resume when done.
    pub authreq: String,
    /// The establishment the page is about.
    pub siret: String,
    /// Where the charte page goes back to once accepted (a local path).
    pub retour: String,
}

/// The service of the URL, or a 404 page.
pub async fn service(state: &AppState, code: &str) -> Result<Service, PageError> {
    services::by_code(&state.db, code)
        .await?
        .ok_or_else(PageError::not_found)
}

/// The logged-in person, or the login page coming back to `here`.
pub async fn person(
    state: &AppState,
    headers: &HeaderMap,
    here: &str,
) -> Result<Result<(LoginSession, User), Response>, PageError> {
    Ok(match logged_in(state, headers).await? {
        Some(found) => Ok(found),
        None => Err(login_then(here)),
    })
}

/// The service of `/acces/{code}{suffix}` and the logged-in person, or the login page coming
/// back to that page (with its `authreq` and `siret`): how every access page starts.
pub async fn visitor(
    page: &Page,
    code: &str,
    suffix: &str,
    authreq: &str,
    siret: &str,
) -> Result<Result<(Service, User), Response>, PageError> {
    let service = service(page, code).await?;
    let here = with_query(&format!("/acces/{}{suffix}", service.code), authreq, siret);
    Ok(person(page, page.headers(), &here)
        .await?
        .map(|(_, user)| (service, user)))
}

/// `path?authreq=…&siret=…` with only the parameters that have a value.
pub fn with_query(path: &str, authreq: &str, siret: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if !authreq.is_empty() {
        query.append_pair("authreq", authreq);
    }
    if !siret.is_empty() {
        query.append_pair("siret", siret);
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// Where « Terminer » leads: the pending authorization request (back to the relying party
/// with a code), else the service's home page, else the provider's home.
pub async fn finish(
    state: &AppState,
    service: &Service,
    authreq: &str,
) -> Result<Response, PageError> {
    if PendingAuthorization::load(state, authreq).await?.is_some() {
        return Ok(Redirect::to(&format!("/authorize/continue?authreq={authreq}")).into_response());
    }
    Ok(Redirect::to(service.home_url.as_deref().unwrap_or("/")).into_response())
}

/// The charte page of `siret`, coming back to `back` (a local path) once it is accepted: the
/// manager's pages send there a Responsable des accès who has not accepted its current version.
pub fn charte_then(service_code: &str, siret: &str, back: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("siret", siret)
        .append_pair("retour", back)
        .finish();
    format!("/acces/{service_code}/charte?{query}")
}

/// « Ajouter l'habilitation »: establishment, role and last day, on a person's page and in the
/// invitation's step 5.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub struct HabilitationForm {
    pub(crate) csrf: String,
    pub(crate) siret: String,
    pub(crate) role: String,
    pub(crate) date_fin: String,
}

crate::with_csrf!(HabilitationForm);
