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

use std::time::Duration;

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query as UrlQuery, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    EndDate,
    actions::decide_request::{self as decide, Decided, decide_request},
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
    organizations::{Establishment, Query, Siret, insee, register},
    store::now,
    web::page::{check_csrf, render},
    web::rate_limit,
};

/// Requests a person may create per [`CREATE_WINDOW`] (all services and establishments).
pub const CREATES_PER_USER: u64 = 10;
/// The window of [`CREATES_PER_USER`].
pub const CREATE_WINDOW: Duration = Duration::from_secs(3600);

/// One search result as the page lists it.
struct ResultRow {
    siret: String,
    siret_display: String,
    name: String,
    location: String,
    active: bool,
    head_office: bool,
    checked: bool,
}

/// A pending request of the person, linked from the form.
struct PendingRow {
    label: String,
    href: String,
}

#[derive(Template)]
#[template(path = "access_request.html")]
struct RequestPage {
    csrf: String,
    service: Service,
    authreq: String,
    back: String,
    pending: Vec<PendingRow>,
    error: Option<String>,
    invalid: &'static str,
    register: bool,
    query: String,
    search_error: Option<String>,
    searched: bool,
    summary: String,
    results: Vec<ResultRow>,
    page_label: String,
    current_page: u32,
    previous_href: Option<String>,
    next_href: Option<String>,
    typed_siret: String,
    message: String,
    max_message: usize,
}

/// `?authreq=…&recherche=…&page=…`.
#[derive(Deserialize, Default)]
pub struct SearchParams {
    #[serde(default)]
    authreq: String,
    #[serde(default)]
    recherche: String,
    #[serde(default)]
    page: String,
}

/// The request form.
#[derive(Deserialize)]
pub struct RequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authreq: String,
    #[serde(default)]
    recherche: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    message: String,
}

/// "130 025 265 00013".
fn spaced(siret: &Siret) -> String {
    let s = siret.as_str();
    format!("{} {} {} {}", &s[..3], &s[3..6], &s[6..9], &s[9..])
}

fn form_path(service: &Service) -> String {
    format!("/acces/{}/demande", service.code)
}

fn search_href(service: &Service, authreq: &str, query: &str, page: u32) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if !authreq.is_empty() {
        q.append_pair("authreq", authreq);
    }
    q.append_pair("recherche", query);
    q.append_pair("page", &page.to_string());
    format!("{}?{}", form_path(service), q.finish())
}

fn sent_path(service: &Service, authreq: &str, siret: &str) -> String {
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

fn home(state: &AppState, service: &Service) -> String {
    service
        .home_url
        .clone()
        .unwrap_or_else(|| messages::absolute(&state.config.issuer, "/"))
}

struct Draft<'a> {
    query: &'a str,
    page: &'a str,
    siret: &'a str,
    message: &'a str,
    error: Option<String>,
    invalid: &'static str,
}

async fn request_page(
    state: &AppState,
    headers: &HeaderMap,
    service: Service,
    user: &User,
    authreq: String,
    draft: Draft<'_>,
) -> Result<Response, PageError> {
    let register_on = state.insee.is_some() || !register::is_empty(&state.db).await?;
    let pending = requests::pending_of_user(&state.db, &user.id, &service.code)
        .await?
        .iter()
        .map(|r| PendingRow {
            label: r.establishment_label(),
            href: sent_path(&service, &authreq, &r.siret),
        })
        .collect();
    // The SIRET chosen, else the person's own organisation's.
    let chosen = Siret::parse(draft.siret)
        .ok()
        .or_else(|| user.siret.as_deref().and_then(|s| Siret::parse(s).ok()));
    let mut page = RequestPage {
        csrf: String::new(),
        back: pages::with_query(&format!("/acces/{}", service.code), &authreq, ""),
        service,
        authreq,
        pending,
        error: draft.error,
        invalid: draft.invalid,
        register: register_on,
        query: draft.query.to_owned(),
        search_error: None,
        searched: false,
        summary: String::new(),
        results: Vec::new(),
        page_label: String::new(),
        current_page: 1,
        previous_href: None,
        next_href: None,
        typed_siret: if draft.siret.is_empty() {
            user.siret.clone().unwrap_or_default()
        } else {
            draft.siret.to_owned()
        },
        message: draft.message.to_owned(),
        max_message: MAX_MESSAGE_CHARS,
    };
    if register_on {
        let number = draft.page.trim().parse::<u32>().unwrap_or(1).max(1);
        let found = if draft.query.trim().is_empty() {
            match &chosen {
                Some(siret) => Some(
                    insee::search(
                        &state.db,
                        state.insee.as_ref(),
                        &Query::Siret(siret.clone()),
                        1,
                    )
                    .await?,
                ),
                None => None,
            }
        } else {
            match Query::parse(draft.query) {
                Ok(query) => {
                    Some(insee::search(&state.db, state.insee.as_ref(), &query, number).await?)
                }
                Err(e) => {
                    page.search_error = Some(e.to_string());
                    None
                }
            }
        };
        if let Some(found) = found {
            page.searched = true;
            page.current_page = found.page;
            page.summary = found.summary();
            if found.pages() > 1 {
                page.page_label = format!(
                    "Page {} sur {}",
                    found.page.min(found.pages()),
                    found.pages()
                );
                if found.page > 1 {
                    page.previous_href = Some(search_href(
                        &page.service,
                        &page.authreq,
                        draft.query,
                        found.page - 1,
                    ));
                }
                if found.page < found.pages() {
                    page.next_href = Some(search_href(
                        &page.service,
                        &page.authreq,
                        draft.query,
                        found.page + 1,
                    ));
                }
            }
            page.results = found
                .results
                .iter()
                .map(|e: &Establishment| ResultRow {
                    siret: e.siret.as_str().to_owned(),
                    siret_display: spaced(&e.siret),
                    name: e.name.clone(),
                    location: e.location(),
                    active: e.active,
                    head_office: e.head_office,
                    checked: e.active && chosen.as_ref() == Some(&e.siret),
                })
                .collect();
        }
    }
    let status = if page.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(state, headers, status, |csrf| RequestPage { csrf, ..page })
}

/// `GET /acces/{service}/demande`: « Vous souhaitez demander un accès au service numérique … ».
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    UrlQuery(q): UrlQuery<SearchParams>,
) -> Result<Response, PageError> {
    let service = pages::service(&state, &code).await?;
    let here = if q.recherche.is_empty() {
        pages::with_query(&form_path(&service), &q.authreq, "")
    } else {
        search_href(
            &service,
            &q.authreq,
            &q.recherche,
            q.page.parse().unwrap_or(1),
        )
    };
    let (_, user) = match pages::person(&state, &headers, &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    request_page(
        &state,
        &headers,
        service,
        &user,
        q.authreq,
        Draft {
            query: &q.recherche,
            page: &q.page,
            siret: "",
            message: "",
            error: None,
            invalid: "",
        },
    )
    .await
}

#[derive(Template)]
#[template(path = "access_request_no_manager.html")]
struct NoManagerPage {
    service: Service,
    establishment: String,
    code_href: String,
    back: String,
}

fn establishment_label(siret: &Siret, found: Option<&Establishment>) -> String {
    match found {
        Some(e) => format!("{} (SIRET {})", e.name, siret),
        None => format!("SIRET {siret}"),
    }
}

/// What the e-mails say about a request.
fn mail_of<'a>(
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
fn requester_line(r: &AccessRequest) -> String {
    let civ = civilite_label(r.gender.as_deref());
    let name = r.requester_name();
    let who = if civ.is_empty() {
        name
    } else {
        format!("{civ} {name}")
    };
    format!("{who} ({})", r.email)
}

/// E-mails every Responsable des accès of the request's establishment; returns how many
/// e-mails were sent (failures are logged).
async fn mail_managers(state: &AppState, service: &Service, request: &AccessRequest) -> usize {
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
    sent
}

/// `POST /acces/{service}/demande`: « Demander l'accès ».
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<RequestForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let service = pages::service(&state, &code).await?;
    let here = pages::with_query(&form_path(&service), &form.authreq, "");
    let (_, user) = match pages::person(&state, &headers, &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let message = form.message.trim();
    let draft = |error: &str, invalid: &'static str| Draft {
        query: &form.recherche,
        page: &form.page,
        siret: form.siret.trim(),
        message,
        error: Some(error.to_owned()),
        invalid,
    };
    let siret = match Siret::parse(&form.siret) {
        Ok(s) => s,
        Err(_) => {
            let d = draft(
                "Recherchez puis sélectionnez votre établissement (SIRET à 14 chiffres).",
                "siret",
            );
            return request_page(&state, &headers, service, &user, form.authreq.clone(), d).await;
        }
    };
    if message.chars().count() > MAX_MESSAGE_CHARS {
        let e = format!("Le message ne doit pas dépasser {MAX_MESSAGE_CHARS} caractères.");
        let d = draft(&e, "message");
        return request_page(&state, &headers, service, &user, form.authreq.clone(), d).await;
    }
    let found = register::by_siret(&state.db, &siret).await?;
    if found.as_ref().is_some_and(|e| !e.active) {
        let d = draft(
            "Cet établissement est fermé dans le répertoire SIRENE : il ne peut pas recevoir de nouvel accès.",
            "siret",
        );
        return request_page(&state, &headers, service, &user, form.authreq.clone(), d).await;
    }
    // Asked again: the status page, where « Relancer ma demande » is.
    if requests::pending_for(&state.db, &user.id, &service.code, siret.as_str())
        .await?
        .is_some()
    {
        return Ok(
            Redirect::to(&sent_path(&service, &form.authreq, siret.as_str())).into_response(),
        );
    }
    let managers = managers::of_establishment(&state.db, &service.code, siret.as_str()).await?;
    if managers.is_empty() {
        audit::record_on_pool(
            &state.db,
            &user.id,
            "access_request.no_manager",
            siret.as_str(),
            serde_json::json!({"service": service.code}),
        )
        .await?;
        let page = NoManagerPage {
            establishment: establishment_label(&siret, found.as_ref()),
            code_href: pages::with_query(&format!("/acces/{}", service.code), &form.authreq, ""),
            back: pages::with_query(&form_path(&service), &form.authreq, ""),
            service,
        };
        return render(&state, &headers, StatusCode::OK, |_| page);
    }
    rate_limit::hit(
        &state.ephemeral,
        "access-request-user",
        &user.id,
        CREATES_PER_USER,
        CREATE_WINDOW,
    )
    .await??;
    let Some(request) =
        requests::create(&state.db, &user.id, &service.code, siret.as_str(), message).await?
    else {
        // The same request, a moment ago on another node: its page, no second e-mail.
        return Ok(
            Redirect::to(&sent_path(&service, &form.authreq, siret.as_str())).into_response(),
        );
    };
    audit::record_on_pool(
        &state.db,
        &user.id,
        "access_request.created",
        siret.as_str(),
        serde_json::json!({"service": service.code, "request_id": request.id}),
    )
    .await?;
    let sent = mail_managers(&state, &service, &request).await;
    if sent == 0 {
        requests::mark_unsent(&state.db, &request.id).await?;
    }
    tracing::info!(access.service = %service.code, mails = sent, "access request created");
    Ok(Redirect::to(&sent_path(&service, &form.authreq, siret.as_str())).into_response())
}

#[derive(Template)]
#[template(path = "access_request_sent.html")]
struct SentPage {
    csrf: String,
    service: Service,
    authreq: String,
    siret: String,
    establishment: String,
    /// « 05/11/2024 à 14h28 »; empty when no e-mail could be sent.
    sent_at: String,
    days_left: i64,
    home: String,
    error: Option<String>,
}

async fn sent_page(
    state: &AppState,
    headers: &HeaderMap,
    service: Service,
    authreq: String,
    request: &AccessRequest,
    error: Option<String>,
) -> Result<Response, PageError> {
    let t = now();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let home = home(state, &service);
    render(state, headers, status, |csrf| SentPage {
        csrf,
        service,
        authreq,
        siret: request.siret.clone(),
        establishment: request.establishment_label(),
        sent_at: if request.sent_at > 0 {
            dates::french_date_time(request.sent_at)
        } else {
            String::new()
        },
        days_left: request.days_before_resend(t),
        home,
        error,
    })
}

/// `GET /acces/{service}/demande/envoyee?siret=…`: where the person's request stands.
pub async fn show_sent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    UrlQuery(q): UrlQuery<AccessQuery>,
) -> Result<Response, PageError> {
    let service = pages::service(&state, &code).await?;
    let here = sent_path(&service, &q.authreq, &q.siret);
    let (_, user) = match pages::person(&state, &headers, &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let Some(request) = requests::pending_for(&state.db, &user.id, &service.code, &q.siret).await?
    else {
        // Handled meanwhile (or never made): the no-access page decides what comes next.
        return Ok(Redirect::to(&pages::with_query(
            &format!("/acces/{}", service.code),
            &q.authreq,
            "",
        ))
        .into_response());
    };
    sent_page(&state, &headers, service, q.authreq, &request, None).await
}

/// « Relancer ma demande ».
#[derive(Deserialize)]
pub struct ResendForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authreq: String,
    #[serde(default)]
    siret: String,
}

/// `POST /acces/{service}/demande/relance`: e-mails the managers again, 30 days after the
/// last e-mail at the earliest.
pub async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<ResendForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let service = pages::service(&state, &code).await?;
    let here = sent_path(&service, &form.authreq, &form.siret);
    let (_, user) = match pages::person(&state, &headers, &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let Some(request) =
        requests::pending_for(&state.db, &user.id, &service.code, &form.siret).await?
    else {
        return Err(PageError::not_found());
    };
    let t = now();
    if !request.can_resend(t) || !requests::mark_resent(&state.db, &request.id, t).await? {
        let days = request.days_before_resend(t).max(1);
        let error = format!(
            "Vous pourrez relancer la demande dans {days} jour{}.",
            if days > 1 { "s" } else { "" }
        );
        return sent_page(
            &state,
            &headers,
            service,
            form.authreq.clone(),
            &request,
            Some(error),
        )
        .await;
    }
    audit::record_on_pool(
        &state.db,
        &user.id,
        "access_request.resent",
        &request.siret,
        serde_json::json!({"service": service.code, "request_id": request.id}),
    )
    .await?;
    let sent = mail_managers(&state, &service, &request).await;
    if sent == 0 {
        requests::mark_unsent(&state.db, &request.id).await?;
    }
    Ok(Redirect::to(&sent_path(&service, &form.authreq, &request.siret)).into_response())
}

#[derive(Template)]
#[template(path = "access_request_manage.html")]
struct ManagePage {
    csrf: String,
    service: Service,
    request: AccessRequest,
    civilite: &'static str,
    created_at: String,
    /// « Acceptée par Jeanne Martin le … » when handled.
    outcome: Option<String>,
    roles: Vec<Role>,
    role: String,
    end_date: String,
    reason: String,
    max_message: usize,
    home: String,
    error: Option<String>,
    invalid: &'static str,
}

struct Decision<'a> {
    role: &'a str,
    end_date: &'a str,
    reason: &'a str,
    error: Option<String>,
    invalid: &'static str,
}

fn outcome(request: &AccessRequest, viewer: &str) -> Option<String> {
    let verb = match request.status {
        Status::Pending => return None,
        Status::Accepted => "acceptée",
        Status::Refused => "refusée",
    };
    let who = if request.handled_by.as_deref() == Some(viewer) {
        "vous".to_owned()
    } else {
        request
            .handled_by_name
            .clone()
            .unwrap_or_else(|| "un autre responsable des accès".into())
    };
    let when = request
        .handled_at
        .map(dates::french_date_time)
        .unwrap_or_default();
    Some(format!("Demande {verb} par {who} le {when}."))
}

async fn manage_page(
    state: &AppState,
    headers: &HeaderMap,
    service: Service,
    request: AccessRequest,
    viewer: &str,
    status: StatusCode,
    d: Decision<'_>,
) -> Result<Response, PageError> {
    let roles = services::roles(&state.db, &service.code).await?;
    let home = home(state, &service);
    render(state, headers, status, |csrf| ManagePage {
        csrf,
        civilite: civilite_label(request.gender.as_deref()),
        created_at: dates::french_date_time(request.created_at),
        outcome: outcome(&request, viewer),
        request,
        service,
        roles,
        role: d.role.to_owned(),
        end_date: d.end_date.to_owned(),
        reason: d.reason.to_owned(),
        max_message: MAX_MESSAGE_CHARS,
        home,
        error: d.error,
        invalid: d.invalid,
    })
}

/// The request of the URL, when `user` is Responsable des accès of its establishment for the
/// service and accepted the charte there: else 404, 403 or the charte page.
async fn managed_request(
    state: &AppState,
    service: &Service,
    user: &User,
    id: &str,
) -> Result<Result<AccessRequest, Response>, PageError> {
    let request = requests::by_id(&state.db, id)
        .await?
        .filter(|r| r.service_code == service.code)
        .ok_or_else(PageError::not_found)?;
    if !managers::is_manager(&state.db, &user.id, &service.code, &request.siret).await? {
        audit::record_on_pool(
            &state.db,
            &user.id,
            "access_request.forbidden",
            &request.siret,
            serde_json::json!({"service": service.code, "request_id": request.id}),
        )
        .await?;
        return Err(PageError::forbidden(format!(
            "Vous n'êtes pas responsable des accès de cet établissement pour le service numérique {}.",
            service.label
        )));
    }
    if !activation::charte_accepted(state, &user.id, service, &request.siret).await? {
        let to = pages::charte_then(
            &service.code,
            &request.siret,
            &format!("/acces/{}/demandes/{}", service.code, request.id),
        );
        return Ok(Err(Redirect::to(&to).into_response()));
    }
    Ok(Ok(request))
}

/// `GET /acces/{service}/demandes/{id}`: the request, for its managers (the e-mail's link).
pub async fn show_request(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, id)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let service = pages::service(&state, &code).await?;
    let here = request_path(&service.code, &id);
    let (_, user) = match pages::person(&state, &headers, &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let request = match managed_request(&state, &service, &user, &id).await? {
        Ok(r) => r,
        Err(redirect) => return Ok(redirect),
    };
    manage_page(
        &state,
        &headers,
        service,
        request,
        &user.id,
        StatusCode::OK,
        Decision {
            role: "",
            end_date: "",
            reason: "",
            error: None,
            invalid: "",
        },
    )
    .await
}

/// The manager's form.
#[derive(Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    /// `accepter` or `refuser`.
    #[serde(default)]
    action: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    date_fin: String,
    #[serde(default)]
    motif: String,
}

/// `POST /acces/{service}/demandes/{id}`: « Ajouter l'habilitation » or « Refuser la demande ».
pub async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((code, id)): Path<(String, String)>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let service = pages::service(&state, &code).await?;
    let here = request_path(&service.code, &id);
    let (_, manager) = match pages::person(&state, &headers, &here).await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let request = match managed_request(&state, &service, &manager, &id).await? {
        Ok(r) => r,
        Err(_) => {
            return Err(PageError::forbidden(
                "Acceptez d'abord la charte du responsable des accès.",
            ));
        }
    };
    let reason = form.motif.trim();
    let again = |error: String, invalid: &'static str| Decision {
        role: &form.role,
        end_date: &form.date_fin,
        reason,
        error: Some(error),
        invalid,
    };
    let handled = |request: AccessRequest| {
        let service = service.clone();
        let state = &state;
        let headers = &headers;
        let manager_id = manager.id.clone();
        async move {
            manage_page(
                state,
                headers,
                service,
                request,
                &manager_id,
                StatusCode::CONFLICT,
                Decision {
                    role: "",
                    end_date: "",
                    reason: "",
                    error: None,
                    invalid: "",
                },
            )
            .await
        }
    };
    if request.status != Status::Pending {
        return handled(request).await;
    }
    let Some(requester) = store::user_by_id(&state.db, &request.user_id).await? else {
        return Err(PageError::not_found());
    };
    let requester_email = Email::parse(&requester.email).ok();
    let requester_name = full_name(&requester);
    let establishment = request.establishment_label();
    let requester_line = requester_line(&request);
    match form.action.as_str() {
        "refuser" => {
            if reason.chars().count() > MAX_MESSAGE_CHARS {
                let d = again(
                    format!("Le motif ne doit pas dépasser {MAX_MESSAGE_CHARS} caractères."),
                    "motif",
                );
                return manage_page(
                    &state,
                    &headers,
                    service,
                    request,
                    &manager.id,
                    StatusCode::BAD_REQUEST,
                    d,
                )
                .await;
            }
            let decision = decide::Decision::Refuse { reason };
            let by = UserId::from_stored(manager.id.clone());
            let decided =
                decide_request(&state.db, &state.clock, &by, &service, &request, &decision)
                    .await
                    .map_err(|refused| PageError::refused(&refused))?;
            if matches!(decided, Decided::AlreadyHandled) {
                let now_handled = requests::by_id(&state.db, &request.id)
                    .await?
                    .ok_or_else(PageError::not_found)?;
                return handled(now_handled).await;
            }
            if let Some(to) = requester_email {
                let content = mail_of(&service, &requester_line, &establishment, "");
                send_notice(
                    &state,
                    messages::access_request_refused(
                        &to,
                        requester_name.as_deref(),
                        &content,
                        reason,
                        &messages::absolute(&state.config.issuer, messages::LOGIN_PATH),
                    ),
                )
                .await;
            }
        }
        "accepter" => {
            let end_date = if form.date_fin.trim().is_empty() {
                None
            } else {
                match EndDate::parse(&form.date_fin, dates::today()) {
                    Ok(d) => Some(d),
                    Err(e) => {
                        let d = again(e.to_string(), "date_fin");
                        return manage_page(
                            &state,
                            &headers,
                            service,
                            request,
                            &manager.id,
                            StatusCode::BAD_REQUEST,
                            d,
                        )
                        .await;
                    }
                }
            };
            let decision = decide::Decision::Accept {
                role: &form.role,
                end_date,
            };
            let by = UserId::from_stored(manager.id.clone());
            let outcome =
                decide_request(&state.db, &state.clock, &by, &service, &request, &decision).await;
            let role = match outcome {
                Ok(Decided::Accepted(role)) => role,
                Ok(_) => {
                    let now_handled = requests::by_id(&state.db, &request.id)
                        .await?
                        .ok_or_else(PageError::not_found)?;
                    return handled(now_handled).await;
                }
                Err(
                    refused @ (AccessRefusal::UnknownRole(_)
                    | AccessRefusal::ClosedEstablishment(_)),
                ) => {
                    let d = match refused {
                        AccessRefusal::UnknownRole(_) => {
                            again("Sélectionnez le rôle du demandeur.".into(), "role")
                        }
                        other => again(other.to_string(), ""),
                    };
                    return manage_page(
                        &state,
                        &headers,
                        service,
                        request,
                        &manager.id,
                        StatusCode::BAD_REQUEST,
                        d,
                    )
                    .await;
                }
                Err(refused) => return Err(PageError::refused(&refused)),
            };
            if let Some(to) = requester_email {
                let content = mail_of(&service, &requester_line, &establishment, "");
                let end = end_date.map_or("sans date de fin".to_owned(), |d| {
                    format!("jusqu'au {d} inclus")
                });
                send_notice(
                    &state,
                    messages::access_request_accepted(
                        &to,
                        requester_name.as_deref(),
                        &content,
                        &role.label,
                        &end,
                        &home(&state, &service),
                    ),
                )
                .await;
            }
        }
        _ => return Err(PageError::bad_request("Action inconnue.")),
    }
    tracing::info!(access.service = %service.code, decision = %form.action, "access request handled");
    Ok(Redirect::to(&request_path(&service.code, &request.id)).into_response())
}
