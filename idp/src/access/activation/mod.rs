//! First access to a service with an activation code (guide `002` §3.2 steps 13–24):
//! « Vous n'avez pas accès au service numérique CERES » → the code and the SIRET (here) → the
//! « Charte du responsable des accès » ([`charte`]) → « Gestion de mes accès », where the new
//! Responsable des accès gives themselves habilitations ([`own`]) → « Terminer », back to the
//! service.

mod charte;
mod own;

use std::{net::IpAddr, time::Duration};

use askama::Template;
use axum::{
    extract::{Path, Query},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

pub use charte::{accept_charte, show_charte};
pub use own::{assign_self, show_self};

use super::{
    ActivationCode,
    actions::redeem_code::{Redemption, redeem_code},
    codes, habilitations, managers,
    pages::{self, AccessQuery},
    refusal::AccessRefusal,
    services::{self, DocumentKind, Service},
};
use crate::web::page::CsrfForm;
use crate::{
    AppState,
    accounts::{UserId, store::User},
    error::PageError,
    organizations::{Siret, register},
    store::ephemeral::EphemeralError,
    web::page::Page,
    web::{
        client_ip::ClientIp,
        rate_limit::{self, LimitReached},
    },
};

/// Tries of activation codes allowed per person in [`ATTEMPT_WINDOW`]: a person with the
/// letter needs one or two; 60 bits cannot be guessed at this pace. The page and the JSON API
/// count in the same buckets ([`count_attempt`]).
pub const ATTEMPTS_PER_USER: u64 = 10;
/// Per address of the person (their browser on the page; on the JSON API, the address a
/// trusted relying party forwards).
pub const ATTEMPTS_PER_IP: u64 = 30;
/// The window of every limit of the tries.
pub const ATTEMPT_WINDOW: Duration = Duration::from_secs(3600);

/// Where a try of an activation code comes from, for its limits.
#[derive(Clone, Copy, Debug)]
pub enum TriedFrom<'a> {
    /// The provider's own page: the person's browser at this address.
    Page(&'a ClientIp),
    /// The JSON API, called by a relying party's server. Its address is that server's, shared
    /// by all its users: it is not counted. The client is (`access.activation_attempts_per_client`),
    /// and the person's own address when the client is trusted to forward it.
    Api {
        /// The calling client.
        client_id: &'a str,
        /// The person's address, as a trusted client forwarded it.
        end_user_ip: Option<IpAddr>,
    },
}

/// Counts one try of a well-formed activation code by `user_id`, on the page or through the
/// JSON API alike: refused once a limit is reached (per person, per address of the person,
/// per client of the API).
pub async fn count_attempt(
    state: &AppState,
    user_id: &str,
    from: TriedFrom<'_>,
) -> Result<Result<(), LimitReached>, EphemeralError> {
    let hit = |bucket: &'static str, subject: String, max: u64| async move {
        rate_limit::hit(&state.ephemeral, bucket, &subject, max, ATTEMPT_WINDOW).await
    };
    let per_user = hit("activation-user", user_id.to_owned(), ATTEMPTS_PER_USER).await?;
    if per_user.is_err() {
        return Ok(per_user);
    }
    let address = match from {
        TriedFrom::Page(ip) => Some(ip.key()),
        TriedFrom::Api {
            client_id,
            end_user_ip,
        } => {
            let max = state.config.access.activation_attempts_per_client;
            let per_client = hit("activation-client", client_id.to_owned(), max).await?;
            if per_client.is_err() {
                return Ok(per_client);
            }
            end_user_ip.map(|ip| ClientIp(Some(ip)).key())
        }
    };
    match address {
        Some(key) => hit("activation-ip", key, ATTEMPTS_PER_IP).await,
        None => Ok(Ok(())),
    }
}

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
    /// The person's requests still waiting for a Responsable des accès.
    pending: Vec<PendingRequest>,
}

/// A request of the person still pending, as the no-access page recalls it (guide `002` §4):
/// for which establishment, when the last e-mail went, and « Relancer ma demande » once
/// [`super::requests::AccessRequest::can_resend`] allows it.
#[derive(Clone)]
struct PendingRequest {
    siret: String,
    establishment: String,
    /// « 05/11/2024 à 14h28 »; empty when no e-mail could be sent.
    sent_at: String,
    days_left: i64,
}

async fn pending_requests(
    page: &Page,
    user: &User,
    service: &Service,
) -> Result<Vec<PendingRequest>, sqlx::Error> {
    let now = page.clock.now();
    Ok(
        super::requests::pending_of_user(&page.db, &user.id, &service.code)
            .await?
            .into_iter()
            .map(|r| PendingRequest {
                establishment: r.establishment_label(),
                sent_at: if r.sent_at > 0 {
                    super::dates::french_date_time(r.sent_at)
                } else {
                    String::new()
                },
                days_left: r.days_before_resend(now),
                siret: r.siret,
            })
            .collect(),
    )
}

/// `GET /acces/{service}`: « Vous n'avez pas accès au service numérique … ». A person who has
/// a live habilitation by now is sent on.
pub async fn show(
    page: Page,
    Path(code): Path<String>,
    Query(q): Query<AccessQuery>,
) -> Result<Response, PageError> {
    let (service, user) = match pages::visitor(&page, &code, "", &q.authreq, "").await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    if !habilitations::live(&page.db, &user.id, &service.code)
        .await?
        .is_empty()
    {
        return pages::finish(&page, &service, &q.authreq).await;
    }
    let pending = pending_requests(&page, &user, &service).await?;
    page.render(StatusCode::OK, |csrf| NoAccessPage {
        csrf,
        service,
        authreq: q.authreq,
        code: String::new(),
        siret: String::new(),
        error: None,
        invalid: "",
        pending,
    })
}

/// The activation form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CodeForm {
    csrf: String,
    authreq: String,
    siret: String,
    code: String,
}

/// `POST /acces/{service}/activation`: redeems the code ([`redeem_code`]); the person becomes
/// Responsable des accès of the code's establishment and goes on to the charte.
pub async fn redeem(
    page: Page,
    ip: ClientIp,
    Path(code): Path<String>,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Result<Response, PageError> {
    let (service, user) = match pages::visitor(&page, &code, "", &form.authreq, "").await? {
        Ok(found) => found,
        Err(login) => return Ok(login),
    };
    let pending = pending_requests(&page, &user, &service).await?;
    let again = |error: String, invalid: &'static str| {
        page.render(StatusCode::BAD_REQUEST, |csrf| NoAccessPage {
            pending: pending.clone(),
            csrf,
            service: service.clone(),
            authreq: form.authreq.clone(),
            code: form.code.trim().to_owned(),
            siret: form.siret.trim().to_owned(),
            error: Some(error),
            invalid,
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
    count_attempt(&page, &user.id, TriedFrom::Page(&ip)).await??;
    let by = UserId::from_stored(user.id.clone());
    let input = Redemption {
        by: &by,
        service_code: &service.code,
        siret: Some(&siret),
        code: &typed,
        via: None,
    };
    let key = page.kek.derive(codes::HASH_KEY_LABEL);
    match redeem_code(&page.db, &page.clock, &key, &input).await {
        Ok(done) => {
            let charte = format!("/acces/{}/charte", service.code);
            let next = pages::with_query(&charte, &form.authreq, done.siret.as_str());
            Ok(Redirect::to(&next).into_response())
        }
        Err(AccessRefusal::Storage(e)) => Err(e.into()),
        Err(refused @ (AccessRefusal::WrongSiret | AccessRefusal::ClosedEstablishment(_))) => {
            again(refused.to_string(), "siret")
        }
        Err(refused) => again(refused.to_string(), "code"),
    }
}

/// The service of `/acces/{code}{suffix}`, the logged-in person and the establishment of
/// `siret` they manage there: how the charte and « Gestion de mes accès » start. A person who
/// does not manage it is refused; one logged out goes to the login page, coming back.
async fn manager_visit(
    page: &Page,
    code: &str,
    suffix: &str,
    authreq: &str,
    siret: &str,
) -> Result<Result<(Service, User, Siret), Response>, PageError> {
    let (service, user) = match pages::visitor(page, code, suffix, authreq, siret).await? {
        Ok(found) => found,
        Err(login) => return Ok(Err(login)),
    };
    let siret = managed(page, &user.id, &service, siret).await?;
    Ok(Ok((service, user, siret)))
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

crate::with_csrf!(CodeForm);
