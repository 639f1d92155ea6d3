//! The consent page: the person allows (or refuses) what an application asks for.

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::{Query, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

use super::{
    authorize::{self, PendingAuthorization, PendingQuery},
    grants,
};
use crate::{
    AppState,
    accounts::session::LoginSession,
    error::PageError,
    web::{csrf, page::CsrfForm, security_headers},
};

#[derive(Template, WebTemplate)]
#[template(path = "consent.html")]
struct ConsentPage {
    csrf: String,
    authreq: String,
    client_name: String,
    items: Vec<&'static str>,
}

/// What each scope means to a person.
fn describe(scope: &str) -> Option<&'static str> {
    match scope {
        "openid" => Some("Votre identifiant EFP Connect"),
        "email" => Some("Votre adresse e-mail"),
        "profile" => Some("Votre civilité, votre nom, votre prénom et votre poste"),
        "organization" => Some("Votre organisation (SIREN, SIRET, raison sociale)"),
        "habilitations" => Some(
            "Vos habilitations pour ce service (établissement, rôle, date de fin) et les établissements dont vous êtes responsable des accès",
        ),
        "offline_access" => Some("L'accès à ces informations en votre absence"),
        _ => None,
    }
}

/// `GET /consentement`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PendingQuery>,
) -> Result<Response, PageError> {
    let Some(pending) = PendingAuthorization::load(&state, &q.authreq).await? else {
        return Err(PageError::bad_request(
            "Cette demande de connexion a expiré. Veuillez retourner sur l'application et recommencer.",
        ));
    };
    if LoginSession::from_headers(&state, &headers)
        .await?
        .is_none()
    {
        return Err(PageError::forbidden(
            "Votre session a expiré. Veuillez retourner sur l'application et recommencer.",
        ));
    }
    let token = csrf::token(&state, &headers);
    let redirect_uri = pending.request.redirect_uri.clone();
    let page = ConsentPage {
        csrf: token.value,
        authreq: q.authreq,
        client_name: pending.client_name,
        items: pending
            .request
            .consent_scopes()
            .iter()
            .filter_map(|s| describe(s))
            .collect(),
    };
    let mut response = page.into_response();
    if let Some(cookie) = token.set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    // The decision's answer redirects to the client.
    security_headers::allow_form_action(&mut response, &redirect_uri);
    Ok(response)
}

/// Fields of the consent form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ConsentForm {
    csrf: String,
    authreq: String,
    decision: String,
}

/// `POST /consentement`: records the decision and resumes the request.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm(form): CsrfForm<ConsentForm>,
) -> Result<Response, PageError> {
    let Some(session) = LoginSession::from_headers(&state, &headers).await? else {
        return Err(PageError::forbidden(
            "Votre session a expiré. Veuillez retourner sur l'application et recommencer.",
        ));
    };
    match form.decision.as_str() {
        "allow" => {
            let Some(pending) = PendingAuthorization::load(&state, &form.authreq).await? else {
                return Err(PageError::bad_request(
                    "Cette demande de connexion a expiré. Veuillez retourner sur l'application et recommencer.",
                ));
            };
            grants::record_consent(
                &state.db,
                &session.user_id,
                &pending.request.client_id,
                &pending.request.consent_scopes(),
            )
            .await?;
            authorize::resume_pending(&state, &headers, &form.authreq, |r| r.consented = true).await
        }
        "deny" => authorize::deny(&state, &form.authreq).await,
        _ => Err(PageError::bad_request(
            "Veuillez choisir « Autoriser » ou « Refuser ».",
        )),
    }
}

crate::with_csrf!(ConsentForm);
