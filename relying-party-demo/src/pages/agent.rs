//! The agent area (`ministry_agent` claim): find an establishment by SIRET and print its
//! activation letter. Both go through the provider's API with the service's
//! client_credentials token (scope `codes:issue`), never the agent's own token.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{
        Query, State,
        rejection::{FormRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderName, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{CSRF_FAILED, FieldError, HeaderUser};
use crate::{
    AppState, PageError,
    letter::{self, LetterData},
    oidc::{self, Person},
    provider_api::{self, ApiError, Establishment, Siret},
};

/// `templates/agent.html`.
#[derive(Template, WebTemplate)]
#[template(path = "agent.html")]
pub struct AgentPage {
    /// Header.
    pub user: Option<HeaderUser>,
    /// CSRF token.
    pub csrf: String,
    /// The SIRET as typed.
    pub siret: String,
    /// What went wrong.
    pub error: Option<FieldError>,
    /// The establishment found.
    pub found: Option<Establishment>,
}

fn page(
    state: &AppState,
    person: &Person,
    siret: String,
    error: Option<FieldError>,
    found: Option<Establishment>,
) -> AgentPage {
    AgentPage {
        user: Some(HeaderUser::of(person, &state.config)),
        csrf: person.session.csrf.clone(),
        siret,
        error,
        found,
    }
}

/// The logged-in agent; `Ok(None)`: not logged in.
async fn agent(state: &AppState, headers: &HeaderMap) -> Result<Option<Person>, PageError> {
    match oidc::person(state, headers).await? {
        None => Ok(None),
        Some(p) if p.profile.ministry_agent => Ok(Some(p)),
        Some(_) => Err(PageError::Forbidden(
            "Cet espace est réservé aux agents du ministère (DREETS, DDETS).",
        )),
    }
}

/// The service token; a refused one is dropped so the next call gets a new one.
async fn on_refusal(state: &AppState, e: ApiError) -> PageError {
    if matches!(e, ApiError::Unauthorized) {
        state.provider.forget_service_token().await;
        return PageError::Unreachable("service token refused".into());
    }
    e.into()
}

/// `?siret=`.
#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    siret: String,
}

/// `GET /agent[?siret=…]`: the search form, and the establishment found.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Some(person) = agent(&state, &headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let typed = query.map(|Query(q)| q.siret).unwrap_or_default();
    if typed.trim().is_empty() {
        return Ok(page(&state, &person, typed, None, None).into_response());
    }
    let refuse = |status: StatusCode, message: String| {
        let error = Some(FieldError {
            field: "siret",
            message,
        });
        (status, page(&state, &person, typed.clone(), error, None)).into_response()
    };
    let siret = match Siret::parse(&typed) {
        Ok(s) => s,
        Err(m) => return Ok(refuse(StatusCode::BAD_REQUEST, m.into())),
    };
    let token = state.provider.service_token(&state.http).await?;
    match provider_api::establishment(&state.http, &state.config.issuer, &token, &siret).await {
        Ok(Some(found)) => Ok(page(
            &state,
            &person,
            siret.as_str().to_owned(),
            None,
            Some(found),
        )
        .into_response()),
        Ok(None) => Ok(refuse(
            StatusCode::NOT_FOUND,
            "Aucun établissement ne porte ce SIRET dans le répertoire SIRENE.".into(),
        )),
        Err(ApiError::Refused { description, .. }) => {
            Ok(refuse(StatusCode::BAD_REQUEST, description))
        }
        Err(e) => Err(on_refusal(&state, e).await),
    }
}

/// The letter form.
#[derive(Deserialize)]
pub struct LetterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    siret: String,
}

fn paris() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC)
}

/// `POST /agent/courrier`: a new code for the establishment, printed in the letter (PDF).
pub async fn letter(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LetterForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = super::form(form)?;
    let Some(person) = agent(&state, &headers).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    if !person.session.csrf_ok(&form.csrf) {
        return Err(PageError::BadRequest(CSRF_FAILED));
    }
    let refuse = |status: StatusCode, message: String| {
        let error = Some(FieldError {
            field: "siret",
            message,
        });
        (
            status,
            page(&state, &person, form.siret.clone(), error, None),
        )
            .into_response()
    };
    let siret = match Siret::parse(&form.siret) {
        Ok(s) => s,
        Err(m) => return Ok(refuse(StatusCode::BAD_REQUEST, m.into())),
    };
    let token = state.provider.service_token(&state.http).await?;
    let issued =
        match provider_api::issue_code(&state.http, &state.config.issuer, &token, &siret).await {
            Ok(issued) => issued,
            Err(ApiError::Refused {
                status,
                description,
                ..
            }) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
                return Ok(refuse(status, description));
            }
            Err(e) => return Err(on_refusal(&state, e).await),
        };
    let tz = paris();
    let expires_on = jiff::Timestamp::from_second(issued.expires_at)
        .map_err(|e| PageError::Internal(format!("expires_at: {e}")))?
        .to_zoned(tz.clone())
        .date();
    let street = issued.address.clone().unwrap_or_default();
    let town = format!(
        "{} {}",
        issued.postcode.as_deref().unwrap_or_default(),
        issued.commune.as_deref().unwrap_or_default()
    );
    let data = LetterData {
        establishment: issued
            .establishment
            .clone()
            .unwrap_or_else(|| "Madame, Monsieur le responsable du centre".into()),
        address_lines: [street, town.trim().to_owned()]
            .into_iter()
            .filter(|l| !l.is_empty())
            .collect(),
        siret: issued.siret.clone(),
        code: issued.code.clone(),
        portal_url: state.config.issuer.clone(),
        date: jiff::Zoned::now().with_time_zone(tz).date(),
        expires_on,
        assistance_phone: issued.assistance_phone.clone(),
        assistance_hours: issued.assistance_hours.clone(),
    };
    let pdf = letter::render(&data).map_err(|e| PageError::Internal(e.to_string()))?;
    // Never the code: only who printed a letter for which establishment.
    tracing::info!(user.sub = %person.profile.sub, siret = %siret.as_str(), "activation letter issued");
    let disposition = format!(
        "attachment; filename=\"courrier-activation-{}.pdf\"",
        siret.as_str()
    );
    let headers: [(HeaderName, String); 3] = [
        (header::CONTENT_TYPE, "application/pdf".into()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "no-store".into()),
    ];
    Ok((headers, pdf).into_response())
}
