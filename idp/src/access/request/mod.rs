//! Access requests in pages (guide `002` §4 and §6.1).
//!
//! The requester: « Vous souhaitez demander un accès » → search the establishment (raison
//! sociale, SIREN or SIRET, a plain GET form), optional message, « Demander l'accès » → every
//! Responsable des accès of that establishment and service is e-mailed → « Un e-mail a été
//! envoyé à votre Responsable des accès, le … à … » with « Relancer ma demande », allowed 30
//! days later. An establishment without Responsable des accès gets an explanation (ask the
//! DREETS/DDETS for an activation code) and nothing is stored.
//!
//! The manager: the e-mail's link `/acces/{service}/demandes/{id}` shows the requester and the
//! form « Ajouter l'habilitation » (rôle, date de fin) or « Refuser la demande ». Only the
//! Responsables des accès of that establishment for that service may see or act (403
//! otherwise); a request is handled once, the requester is e-mailed either way.

use askama::Template;
use axum::{
    extract::{Path, Query as UrlQuery},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    EndDate,
    actions::{
        decide_request::{self as verdict, Decided, decide_request},
        relaunch_request::relaunch_request,
        request_access::{Requested, request_access},
    },
    activation, dates, managers,
    pages::{self, AccessQuery},
    refusal::AccessRefusal,
    requests::{self, AccessRequest, MAX_MESSAGE_CHARS, Status},
    services::{self, Role, Service},
};
use crate::{
    AppState,
    accounts::{
        Email, UserId,
        account::{civilite_label, full_name, send_notice},
        store::{self, User},
    },
    audit,
    error::PageError,
    mail::messages::{self, AccessRequestMail},
    organizations::{
        Establishment, Siret,
        picker::{self, Picker},
        register,
    },
    web::page::{CsrfForm, Page},
    with_csrf,
};

pub(super) fn form_path(service: &Service) -> String {
    format!("/acces/{}/demande", service.code)
}

pub(super) fn search_href(service: &Service, authreq: &str, query: &str, page: u32) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if !authreq.is_empty() {
        q.append_pair("authreq", authreq);
    }
    q.append_pair("recherche", query);
    q.append_pair("page", &page.to_string());
    format!("{}?{}", form_path(service), q.finish())
}

pub(super) fn sent_path(service: &Service, authreq: &str, siret: &str) -> String {
    pages::with_query(
        &format!("/acces/{}/demande/envoyee", service.code),
        authreq,
        siret,
    )
}

/// The page of a request for its managers.
pub fn request_path(service_code: &str, id: &str) -> String {
    format!("/acces/{service_code}/demandes/{id}")
}

pub(super) fn home(state: &AppState, service: &Service) -> String {
    service
        .home_url
        .clone()
        .unwrap_or_else(|| messages::absolute(&state.config.issuer, "/"))
}

pub(super) fn establishment_label(siret: &Siret, found: Option<&Establishment>) -> String {
    match found {
        Some(e) => format!("{} (SIRET {})", e.name, siret),
        None => format!("SIRET {siret}"),
    }
}

/// What the e-mails say about a request.
pub(super) fn mail_of<'a>(
    service: &'a Service,
    requester: &'a str,
    establishment: &'a str,
    message: &'a str,
) -> AccessRequestMail<'a> {
    AccessRequestMail {
        service_label: &service.label,
        requester,
        establishment,
        message,
    }
}

/// « Madame Alice Martin (alice@centre.fr) ».
pub(super) fn requester_line(r: &AccessRequest) -> String {
    let civ = civilite_label(r.gender.as_deref());
    let name = r.requester_name();
    let who = if civ.is_empty() {
        name
    } else {
        format!("{civ} {name}")
    };
    format!("{who} ({})", r.email)
}

/// E-mails every Responsable des accès of the request's establishment, after the action's
/// commit; returns how many e-mails were sent (failures are logged). When none could be sent,
/// « Relancer ma demande » is allowed at once.
pub(super) async fn mail_managers(
    state: &AppState,
    service: &Service,
    request: &AccessRequest,
) -> usize {
    let managers = match managers::of_establishment(&state.db, &service.code, &request.siret).await
    {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error.message = %e, "access request: managers not read");
            return 0;
        }
    };
    let requester = requester_line(request);
    let establishment = request.establishment_label();
    let content = mail_of(service, &requester, &establishment, &request.message);
    let link = state.config.url(&request_path(&service.code, &request.id));
    let mut sent = 0;
    for m in managers {
        let Ok(to) = Email::parse(&m.email) else {
            continue;
        };
        let name = (!m.name.is_empty()).then_some(m.name.as_str());
        let result = match messages::access_requested(&to, name, &content, &link) {
            Ok(message) => state.mailer.send(&message).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => sent += 1,
            Err(e) => tracing::warn!(error.message = %e, "access request e-mail not sent"),
        }
    }
    if sent == 0
        && let Err(e) = requests::mark_unsent(&state.db, &request.id).await
    {
        tracing::error!(error.message = %e, "access request: not marked unsent");
    }
    sent
}

pub mod ask;
pub mod decide;
pub mod sent;
