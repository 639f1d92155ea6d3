//! The ministry agents' area (DESIGN journey 8): for an establishment (SIRET) and a service,
//! the register entry, its Responsables des accès, its activation codes (issue, revoke; the
//! code is shown once, for the postal letter) and its audit trail. Only agents enter
//! ([`super::rules::is_agent`]: a login through an upstream agents' provider, or a break-glass
//! account marked by `idp users create --agent`); anyone else gets 403.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    actions::{
        issue_code::{CodeIssue, Issued, issue_code},
        revoke_code::revoke_code,
    },
    codes::{self, CodeInfo},
    dates,
    managers::{self, AccessManager},
    pages,
    refusal::AccessRefusal,
    rules,
    services::{self, Service},
};
use crate::web::page::CsrfForm;
use crate::{
    AppState,
    accounts::step_up,
    accounts::store::User,
    audit::{self, NamedEvent},
    error::PageError,
    organizations::{Establishment, Siret, register},
    web::page::Page,
};

/// How many audit events the page shows.
const EVENTS_SHOWN: i64 = 100;

/// A ministry agent, logged in: as a handler argument, the agents' pages need no check of
/// their own. Anyone else logged in gets 403; nobody logged in goes to the login, back to
/// `/agent`.
pub struct Agent(pub User);

impl axum::extract::FromRequestParts<AppState> for Agent {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let logged_in = crate::accounts::logged_in::LoggedIn::of(state, &parts.headers).await;
        match logged_in {
            Ok(Some(l)) if rules::is_agent(&l.user, l.session.upstream.as_deref()) => {
                let here = agents_page(parts);
                match step_up::before_own_page(state, &parts.headers, &l.session, &here).await {
                    Ok(None) => Ok(Self(l.user)),
                    Ok(Some(step_up)) => Err(step_up),
                    Err(e) => Err(e.into_response()),
                }
            }
            Ok(Some(_)) => Err(PageError::forbidden(
                "Cet espace est réservé aux agents du ministère.",
            )
            .into_response()),
            Ok(None) => Err(crate::web::page::login_then(&agents_page(parts))),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The agents' page to come back to after a login or a step-up (with its query when shown).
fn agents_page(parts: &axum::http::request::Parts) -> String {
    match parts.uri.query() {
        Some(q) if parts.method == axum::http::Method::GET => format!("/agent?{q}"),
        _ => "/agent".to_owned(),
    }
}

/// `?siret=&service=`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AgentQuery {
    siret: String,
    service: String,
}

/// What the page shows about the establishment looked up.
struct Lookup {
    siret: String,
    establishment: Option<Establishment>,
    managers: Vec<AccessManager>,
    codes: Vec<CodeInfo>,
    events: Vec<NamedEvent>,
}

#[derive(Template)]
#[template(path = "access_agent.html")]
struct AgentPage {
    csrf: String,
    services: Vec<Service>,
    service: String,
    siret_input: String,
    lookup: Option<Lookup>,
    error: Option<String>,
}

impl AgentPage {
    fn date(&self, t: &i64) -> String {
        dates::french_date_time(*t)
    }
}

async fn lookup(state: &AppState, service: &str, siret: &Siret) -> Result<Lookup, PageError> {
    Ok(Lookup {
        siret: siret.to_string(),
        establishment: register::by_siret(&state.db, siret).await?,
        managers: managers::of_establishment(&state.db, service, siret.as_str()).await?,
        codes: codes::list_at(&state.db, service, Some(siret.as_str()), state.clock.now()).await?,
        events: audit::for_establishment(&state.db, siret, EVENTS_SHOWN).await?,
    })
}

/// `GET /agent`: find an establishment by SIRET; what the provider knows of it.
pub async fn show(
    page: Page,
    _: Agent,
    Query(q): Query<AgentQuery>,
) -> Result<Response, PageError> {
    let services = services::all(&page.db).await?;
    let service = if q.service.is_empty() {
        services.first().map(|s| s.code.clone()).unwrap_or_default()
    } else {
        q.service.clone()
    };
    if !services.iter().any(|s| s.code == service) && !q.siret.is_empty() {
        return Err(PageError::not_found());
    }
    let (found, error, status) = if q.siret.trim().is_empty() {
        (None, None, StatusCode::OK)
    } else {
        match Siret::parse(&q.siret) {
            Ok(siret) => (
                Some(lookup(&page, &service, &siret).await?),
                None,
                StatusCode::OK,
            ),
            Err(e) => (None, Some(format!("SIRET : {e}")), StatusCode::BAD_REQUEST),
        }
    };
    page.render(status, |csrf| AgentPage {
        csrf,
        services,
        service,
        siret_input: q.siret.trim().to_owned(),
        lookup: found,
        error,
    })
}

/// The issue and revoke forms.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    siret: String,
    service: String,
}

#[derive(Template)]
#[template(path = "access_agent_code.html")]
struct IssuedPage {
    service: Service,
    siret: String,
    establishment: Option<Establishment>,
    code: String,
    expires: String,
    redeem_url: String,
}

/// `POST /agent/codes`: « Éditer le courrier d'activation »: a new code for an open
/// establishment of the register (the unused previous one is revoked), shown once with what
/// the letter needs. A refusal is the page of its French message, 400.
pub async fn issue(
    page: Page,
    Agent(user): Agent,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let service = pages::service(&page, &form.service).await?;
    let siret =
        Siret::parse(&form.siret).map_err(|e| PageError::bad_request(format!("SIRET : {e}")))?;
    let issued = match issue_for_configured_days(&page, &user.id, &service, &siret).await {
        Ok(issued) => issued,
        Err(AccessRefusal::Storage(e)) => return Err(e.into()),
        Err(refused) => return Err(PageError::bad_request(refused.to_string())),
    };
    let redeem_url = page.config.url(&format!("/acces/{}", service.code));
    page.render(StatusCode::OK, |_| IssuedPage {
        code: issued.code.code.as_str().to_owned(),
        expires: dates::french_date(issued.code.expires_at),
        siret: siret.to_string(),
        establishment: Some(issued.establishment),
        service,
        redeem_url,
    })
}

/// `POST /agent/codes/{id}/revoquer`: revokes the code (one already used or revoked stays as
/// it is), back to the establishment's page.
pub async fn revoke(
    State(state): State<AppState>,
    Agent(user): Agent,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    // A used or already revoked code is refused as through the API: the agent learns that the
    // letter's code did its work, or that someone revoked it first.
    let code = revoke_code(&state.db, &state.clock, &user.id, &id, None)
        .await
        .map_err(|refused| PageError::refused(&refused))?;
    let back = format!("/agent?service={}&siret={}", code.service_code, code.siret);
    Ok(Redirect::to(&back).into_response())
}

crate::with_csrf!(CodeForm);

/// Issues an activation code valid for the configured number of days (the agent's page and
/// the back-office API).
pub(super) async fn issue_for_configured_days(
    state: &AppState,
    by: &str,
    service: &Service,
    siret: &Siret,
) -> Result<Issued, AccessRefusal> {
    let input = CodeIssue {
        by,
        service_code: &service.code,
        siret,
        ttl_seconds: i64::from(state.config.access.activation_code_ttl_days) * 86_400,
    };
    let key = state.kek.derive(codes::HASH_KEY_LABEL);
    issue_code(&state.db, &state.clock, &key, &input).await
}
