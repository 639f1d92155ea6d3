//! First access to a service with an activation code (guide `002` §3.2 steps 13–24):
//! « Vous n'avez pas accès au service numérique CERES » → the code and the SIRET → the
//! « Charte du responsable des accès » → « Gestion de mes accès », where the new Responsable
//! des accès gives themselves habilitations → « Terminer », back to the service.

use std::time::Duration;

use askama::Template;
use axum::{
    Form,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{
    ActivationCode, EndDate, codes, dates,
    habilitations::{self, GrantedHow, Habilitation, NewHabilitation},
    managers,
    pages::{self, AccessQuery},
    services::{self, DocumentKind, Role, Service},
};
use crate::{
    AppState, audit,
    error::PageError,
    organizations::{Siret, register},
    web::page::{check_csrf, render, safe_return},
    web::{client_ip::ClientIp, rate_limit},
};

/// Tries of activation codes allowed per person and per client address in
/// [`ATTEMPT_WINDOW`]: a person with the letter needs one or two; 60 bits cannot be guessed
/// at this pace. The API (`api.rs`) counts in the same buckets.
pub const ATTEMPTS_PER_USER: u64 = 10;
/// Per client address.
pub const ATTEMPTS_PER_IP: u64 = 30;
/// The window of both.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(3600);

#[derive(Template)]
#[template(path = "access_denied.html")]
struct NoAccessPage {
    csrf: String,
    service: Service,
    authreq: String,
    code: String,
    siret: String,
    error: Option<String>,
    /// Which field the error is about: `code`, `siret` or empty.
    invalid: &'static str,
}

/// `GET /acces/{service}`: « Vous n'avez pas accès au service numérique … ». A person who has
/// a live habilitation by now is sent on.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<AccessQuery>,
) -> Result<Response, PageError> {
    let (service, user) = match pages::visitor(&state, &headers, &code, "", &q.authreq, "").await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    if !habilitations::live(&state.db, &user.id, &service.code)
        .await?
        .is_empty()
    {
        return pages::finish(&state, &service, &q.authreq).await;
    }
    render(&state, &headers, StatusCode::OK, |csrf| NoAccessPage {
        csrf,
        service,
        authreq: q.authreq,
        code: String::new(),
        siret: String::new(),
        error: None,
        invalid: "",
    })
}

/// The activation form.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authreq: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    code: String,
}

/// `POST /acces/{service}/activation`: redeems the code; the person becomes Responsable des
/// accès of the code's establishment and goes on to the charte.
pub async fn redeem(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    Path(code): Path<String>,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let (service, user) =
        match pages::visitor(&state, &headers, &code, "", &form.authreq, "").await? {
            Ok(found) => found,
            Err(login) => return Ok(login),
        };
    let again = |error: String, invalid: &'static str| {
        render(&state, &headers, StatusCode::BAD_REQUEST, |csrf| {
            NoAccessPage {
                csrf,
                service: service.clone(),
                authreq: form.authreq.clone(),
                code: form.code.trim().to_owned(),
                siret: form.siret.trim().to_owned(),
                error: Some(error),
                invalid,
            }
        })
    };
    let siret = match Siret::parse(&form.siret) {
        Ok(s) => s,
        Err(e) => return again(format!("SIRET : {e}"), "siret"),
    };
    let typed = match ActivationCode::parse(&form.code) {
        Ok(c) => c,
        Err(e) => return again(e.to_string(), "code"),
    };
    // Counted only for well-formed tries: a typo in the format costs nothing.
    rate_limit::hit(
        &state.ephemeral,
        "activation-user",
        &user.id,
        ATTEMPTS_PER_USER,
        ATTEMPT_WINDOW,
    )
    .await??;
    rate_limit::hit(
        &state.ephemeral,
        "activation-ip",
        &ip.key(),
        ATTEMPTS_PER_IP,
        ATTEMPT_WINDOW,
    )
    .await??;
    if register::by_siret(&state.db, &siret)
        .await?
        .is_some_and(|e| !e.active)
    {
        return again(
            "Cet établissement est fermé dans le répertoire SIRENE : il ne peut pas recevoir de nouvel accès.".into(),
            "siret",
        );
    }
    let key = state.kek.derive(codes::HASH_KEY_LABEL);
    match codes::redeem(
        &state.db,
        &key,
        &typed,
        &service.code,
        Some(siret.as_str()),
        &user.id,
    )
    .await
    {
        Ok(done) => {
            audit::record_on_pool(
                &state.db,
                &user.id,
                "activation_code.redeemed",
                &done.siret,
                serde_json::json!({"service": service.code, "code_id": done.id}),
            )
            .await?;
            tracing::info!(access.service = %service.code, "activation code redeemed");
            let next = pages::with_query(
                &format!("/acces/{}/charte", service.code),
                &form.authreq,
                &done.siret,
            );
            Ok(Redirect::to(&next).into_response())
        }
        Err(codes::RedeemError::Db(e)) => Err(e.into()),
        Err(refused) => {
            audit::record_on_pool(
                &state.db,
                &user.id,
                "activation_code.refused",
                siret.as_str(),
                serde_json::json!({"service": service.code, "reason": format!("{refused:?}")}),
            )
            .await?;
            let field = if matches!(refused, codes::RedeemError::WrongSiret) {
                "siret"
            } else {
                "code"
            };
            again(refused.to_string(), field)
        }
    }
}

#[derive(Template)]
#[template(path = "access_charte.html")]
struct ChartePage {
    csrf: String,
    service: Service,
    authreq: String,
    retour: String,
    siret: String,
    establishment: String,
    title: String,
    paragraphs: Vec<String>,
    error: Option<String>,
}

/// The establishment of `?siret=` that this person manages for the service, or a refusal.
async fn managed(
    state: &AppState,
    user_id: &str,
    service: &Service,
    siret: &str,
) -> Result<Siret, PageError> {
    let refused = || {
        PageError::forbidden(format!(
            "Vous n'êtes pas responsable des accès de cet établissement pour le service numérique {}.",
            service.label
        ))
    };
    let siret = Siret::parse(siret).map_err(|_| refused())?;
    if managers::is_manager(&state.db, user_id, &service.code, siret.as_str()).await? {
        Ok(siret)
    } else {
        Err(refused())
    }
}

async fn establishment_name(state: &AppState, siret: &Siret) -> Result<String, PageError> {
    Ok(register::by_siret(&state.db, siret)
        .await?
        .map(|e| e.name)
        .unwrap_or_default())
}

/// Whether the person accepted the current charte for this establishment.
pub async fn charte_accepted(
    state: &AppState,
    user_id: &str,
    service: &Service,
    siret: &str,
) -> Result<bool, PageError> {
    let Some(doc) =
        services::current_document(&state.db, &service.code, DocumentKind::Charte).await?
    else {
        return Ok(true);
    };
    Ok(services::accepted_at(
        &state.db,
        user_id,
        &service.code,
        DocumentKind::Charte,
        doc.version,
        siret,
    )
    .await?
    .is_some())
}

async fn charte_page(
    state: &AppState,
    headers: &HeaderMap,
    service: Service,
    authreq: String,
    retour: String,
    siret: &Siret,
    error: Option<String>,
) -> Result<Response, PageError> {
    let doc = services::current_document(&state.db, &service.code, DocumentKind::Charte)
        .await?
        .ok_or_else(PageError::not_found)?;
    let establishment = establishment_name(state, siret).await?;
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(state, headers, status, |csrf| ChartePage {
        csrf,
        service,
        authreq,
        retour,
        siret: siret.to_string(),
        establishment,
        title: doc.title.clone(),
        paragraphs: doc.paragraphs().into_iter().map(str::to_owned).collect(),
        error,
    })
}

/// `GET /acces/{service}/charte?siret=…`: the « Charte du responsable des accès ».
pub async fn show_charte(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<AccessQuery>,
) -> Result<Response, PageError> {
    let (service, user) =
        match pages::visitor(&state, &headers, &code, "/charte", &q.authreq, &q.siret).await? {
            Ok(found) => found,
            Err(login) => return Ok(login),
        };
    let siret = managed(&state, &user.id, &service, &q.siret).await?;
    charte_page(&state, &headers, service, q.authreq, q.retour, &siret, None).await
}

/// The charte form.
#[derive(Deserialize)]
pub struct CharteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authreq: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    retour: String,
    #[serde(default)]
    accepte: Option<String>,
}

/// `POST /acces/{service}/charte`: « J'accepte de devenir responsable des accès » → recorded
/// with the version and the date.
pub async fn accept_charte(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<CharteForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let (service, user) = match pages::visitor(
        &state,
        &headers,
        &code,
        "/charte",
        &form.authreq,
        &form.siret,
    )
    .await?
    {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let siret = managed(&state, &user.id, &service, &form.siret).await?;
    if form.accepte.is_none() {
        return charte_page(
            &state,
            &headers,
            service,
            form.authreq,
            form.retour,
            &siret,
            Some(
                "Cochez la case « J'accepte de devenir responsable des accès » pour continuer."
                    .into(),
            ),
        )
        .await;
    }
    let doc = services::current_document(&state.db, &service.code, DocumentKind::Charte)
        .await?
        .ok_or_else(PageError::not_found)?;
    services::accept_document(
        &state.db,
        &user.id,
        &service.code,
        DocumentKind::Charte,
        doc.version,
        siret.as_str(),
    )
    .await?;
    audit::record_on_pool(
        &state.db,
        &user.id,
        "charte.accepted",
        siret.as_str(),
        serde_json::json!({"service": service.code, "version": doc.version}),
    )
    .await?;
    // Sent here by a manager's page: back to it. Else on to « Gestion de mes accès ».
    if let Some(back) = safe_return(&form.retour) {
        return Ok(Redirect::to(back).into_response());
    }
    let next = pages::with_query(
        &format!("/acces/{}/mes-acces", service.code),
        &form.authreq,
        siret.as_str(),
    );
    Ok(Redirect::to(&next).into_response())
}

#[derive(Template)]
#[template(path = "access_self.html")]
struct SelfPage {
    csrf: String,
    service: Service,
    authreq: String,
    siret: String,
    establishment: String,
    roles: Vec<Role>,
    mine: Vec<Habilitation>,
    role: String,
    end_date: String,
    error: Option<String>,
    invalid: &'static str,
}

struct SelfForm<'a> {
    role: &'a str,
    end_date: &'a str,
    error: Option<String>,
    invalid: &'static str,
}

async fn self_page(
    state: &AppState,
    headers: &HeaderMap,
    service: Service,
    user_id: &str,
    authreq: String,
    siret: &Siret,
    form: SelfForm<'_>,
) -> Result<Response, PageError> {
    let roles = services::roles(&state.db, &service.code).await?;
    let mine = habilitations::of_user(&state.db, user_id, &service.code)
        .await?
        .into_iter()
        .filter(|h| h.siret == siret.as_str() && h.is_live())
        .collect();
    let establishment = establishment_name(state, siret).await?;
    let status = if form.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(state, headers, status, |csrf| SelfPage {
        csrf,
        service,
        authreq,
        siret: siret.to_string(),
        establishment,
        roles,
        mine,
        role: form.role.to_owned(),
        end_date: form.end_date.to_owned(),
        error: form.error,
        invalid: form.invalid,
    })
}

/// `GET /acces/{service}/mes-acces?siret=…`: « Gestion de mes accès ». The charte comes first.
pub async fn show_self(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Query(q): Query<AccessQuery>,
) -> Result<Response, PageError> {
    let (service, user) =
        match pages::visitor(&state, &headers, &code, "/mes-acces", &q.authreq, &q.siret).await? {
            Ok(found) => found,
            Err(login) => return Ok(login),
        };
    let siret = managed(&state, &user.id, &service, &q.siret).await?;
    if !charte_accepted(&state, &user.id, &service, siret.as_str()).await? {
        let to = pages::with_query(
            &format!("/acces/{}/charte", service.code),
            &q.authreq,
            siret.as_str(),
        );
        return Ok(Redirect::to(&to).into_response());
    }
    self_page(
        &state,
        &headers,
        service,
        &user.id,
        q.authreq,
        &siret,
        SelfForm {
            role: "",
            end_date: "",
            error: None,
            invalid: "",
        },
    )
    .await
}

/// The self-assignment form.
#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authreq: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    date_fin: String,
    /// `ajouter` (« Ajouter l'habilitation ») or `terminer` (« Terminer »).
    #[serde(default)]
    action: String,
}

/// `POST /acces/{service}/mes-acces`: « Ajouter l'habilitation » or « Terminer ».
pub async fn assign_self(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<AssignForm>,
) -> Result<Response, PageError> {
    check_csrf(&state, &headers, &form.csrf)?;
    let (service, user) = match pages::visitor(
        &state,
        &headers,
        &code,
        "/mes-acces",
        &form.authreq,
        &form.siret,
    )
    .await?
    {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let siret = managed(&state, &user.id, &service, &form.siret).await?;
    if !charte_accepted(&state, &user.id, &service, siret.as_str()).await? {
        return Err(PageError::forbidden(
            "Acceptez d'abord la charte du responsable des accès.",
        ));
    }
    let again = |error: String, invalid: &'static str| SelfForm {
        role: &form.role,
        end_date: &form.date_fin,
        error: Some(error),
        invalid,
    };
    if form.action == "terminer" {
        if habilitations::live(&state.db, &user.id, &service.code)
            .await?
            .is_empty()
        {
            let f = again(
                "Attribuez-vous au moins une habilitation avant de terminer.".into(),
                "role",
            );
            return self_page(
                &state,
                &headers,
                service,
                &user.id,
                form.authreq.clone(),
                &siret,
                f,
            )
            .await;
        }
        return pages::finish(&state, &service, &form.authreq).await;
    }
    let Some(role) = services::role(&state.db, &service.code, &form.role).await? else {
        let f = again("Sélectionnez votre rôle.".into(), "role");
        return self_page(
            &state,
            &headers,
            service,
            &user.id,
            form.authreq.clone(),
            &siret,
            f,
        )
        .await;
    };
    let end_date = if form.date_fin.trim().is_empty() {
        None
    } else {
        match EndDate::parse(&form.date_fin, dates::today()) {
            Ok(d) => Some(d),
            Err(e) => {
                let f = again(e.to_string(), "date_fin");
                return self_page(
                    &state,
                    &headers,
                    service,
                    &user.id,
                    form.authreq.clone(),
                    &siret,
                    f,
                )
                .await;
            }
        }
    };
    if register::by_siret(&state.db, &siret)
        .await?
        .is_some_and(|e| !e.active)
    {
        let f = again(
            "Cet établissement est fermé dans le répertoire SIRENE : il ne peut pas recevoir de nouvelle habilitation.".into(),
            "",
        );
        return self_page(
            &state,
            &headers,
            service,
            &user.id,
            form.authreq.clone(),
            &siret,
            f,
        )
        .await;
    }
    habilitations::grant(
        &state.db,
        &NewHabilitation {
            user_id: &user.id,
            service_code: &service.code,
            siret: siret.as_str(),
            role: &role.code,
            end_date,
            granted_by: Some(&user.id),
            how: GrantedHow::Manager,
        },
    )
    .await?;
    audit::record_on_pool(
        &state.db,
        &user.id,
        "habilitation.granted",
        &user.id,
        serde_json::json!({"service": service.code, "siret": siret.as_str(), "role": role.code, "end_date": end_date.map(|d| d.iso()), "how": "self"}),
    )
    .await?;
    let next = pages::with_query(
        &format!("/acces/{}/mes-acces", service.code),
        &form.authreq,
        siret.as_str(),
    );
    Ok(Redirect::to(&next).into_response())
}
