//! The JSON API of access (docs/api.md, docs/openapi.yaml):
//! - `POST /api/v1/activation`, called by a relying party with the person's access token:
//!   redeems an activation code typed in the relying party's own page;
//! - `GET /api/v1/notifications`, with the same token: what waits for the person in the
//!   service, for the red pastille the relying party shows beside their name (guide 002 §6.1);
//! - `POST|GET /api/v1/codes`, `DELETE /api/v1/codes/{id}`, called by a service (or the
//!   ministry's back office) with a `client_credentials` token holding the `codes:issue`
//!   scope: issues, lists and revokes the codes of that client's service;
//! - `GET /api/v1/establishments/{siret}`, with the same token: the establishment a code is
//!   about to be issued for, as the register has it (the agent checks it before printing).
//!
//! Errors use the protocol's envelope (`error`, `error_description`).

use std::net::IpAddr;

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequestParts, Path, Query, State},
    http::{HeaderMap, StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    ActivationCode,
    actions::{
        issue_code::Issued,
        redeem_code::{Redemption, redeem_code},
        revoke_code::revoke_code,
    },
    activation::{TriedFrom, count_attempt},
    agent::issue_for_configured_days,
    claims, codes, managers, pages, requests,
    services::{self, Service},
};
use crate::{
    AppState,
    accounts::UserId,
    error::OAuthError,
    mail::messages::ACCOUNT_PATH,
    oidc::{assurance, tokens::AccessClaims, userinfo},
    organizations::{Siret, register},
};

/// The scope a service's back-office client needs for the codes API.
pub const CODES_SCOPE: &str = "codes:issue";

async fn verified(state: &AppState, headers: &HeaderMap) -> Result<AccessClaims, OAuthError> {
    userinfo::verified(state, headers, None).await
}

/// The token was issued to a person, not to a client for itself (`client_credentials`).
fn person_only(claims: &AccessClaims) -> Result<(), OAuthError> {
    if claims.sub == claims.client_id {
        return Err(OAuthError::api(
            StatusCode::FORBIDDEN,
            "user_token_required",
            "Un jeton d'accès délivré à une personne est nécessaire.",
        ));
    }
    Ok(())
}

/// The token's login reached the level becoming Responsable des accès needs
/// ([`assurance::required_to_become_manager`]); otherwise the RFC 9470 challenge, naming the
/// level to log in again with.
async fn assurance_to_become_manager(
    state: &AppState,
    claims: &AccessClaims,
) -> Result<(), OAuthError> {
    let Some(client) = state.clients.get(&state.db, &claims.client_id).await? else {
        return Err(OAuthError::invalid_token("Client inconnu."));
    };
    let config = &state.config.assurance;
    let needed = assurance::required_to_become_manager(state, &client, &claims.sub).await?;
    match needed {
        Some(level) if assurance::of_token(claims.acr.as_deref(), config) < level => {
            Err(OAuthError::insufficient_user_authentication(
                level.acr(config),
                "Une connexion avec double authentification est nécessaire pour devenir responsable des accès.",
            ))
        }
        _ => Ok(()),
    }
}

async fn service_of(state: &AppState, client_id: &str) -> Result<Service, OAuthError> {
    services::of_client(&state.db, client_id)
        .await?
        .map(|link| link.service)
        .ok_or_else(|| {
            OAuthError::api(
                StatusCode::FORBIDDEN,
                "no_service",
                "Ce client n'est rattaché à aucun service numérique.",
            )
        })
}

fn body<T: for<'de> Deserialize<'de>>(raw: &Bytes) -> Result<T, OAuthError> {
    serde_json::from_slice(raw).map_err(|_| {
        OAuthError::invalid_request("Le corps de la requête doit être un objet JSON valide.")
    })
}

fn siret_of(raw: &str) -> Result<Siret, OAuthError> {
    Siret::parse(raw).map_err(|e| {
        OAuthError::api(
            StatusCode::BAD_REQUEST,
            "invalid_siret",
            format!("SIRET : {e}"),
        )
    })
}

#[derive(Deserialize)]
struct RedeemBody {
    code: String,
    #[serde(default)]
    siret: Option<String>,
    /// The person's own address, as their browser reached the relying party: only read from a
    /// client registered as trusted to forward it (`forwards_end_user_ip`).
    #[serde(default)]
    end_user_ip: Option<String>,
}

/// The person's address the calling client forwards, if it is trusted to: an address it sends
/// that does not parse is its error, one an untrusted client sends is ignored.
async fn end_user_ip(
    state: &AppState,
    client_id: &str,
    forwarded: Option<&str>,
) -> Result<Option<IpAddr>, OAuthError> {
    let Some(forwarded) = forwarded else {
        return Ok(None);
    };
    let trusted = state
        .clients
        .get(&state.db, client_id)
        .await?
        .is_some_and(|c| c.forwards_end_user_ip);
    if !trusted {
        return Ok(None);
    }
    forwarded
        .trim()
        .parse()
        .map(Some)
        .map_err(|_| OAuthError::invalid_request("end_user_ip doit être une adresse IPv4 ou IPv6."))
}

/// `POST /api/v1/activation` `{"code": "…", "siret": "…"?, "end_user_ip": "…"?}` with the
/// person's bearer token: the same action as the page ([`redeem_code`]), its refusal's code as
/// `error`. Its limits count the person, the client and (forwarded by a trusted client) the
/// person's address, never the calling server's ([`TriedFrom::Api`]).
pub async fn redeem(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, OAuthError> {
    let claims = verified(&state, &headers).await?;
    person_only(&claims)?;
    let service = service_of(&state, &claims.client_id).await?;
    assurance_to_become_manager(&state, &claims).await?;
    let form: RedeemBody = body(&raw)?;
    let siret = form.siret.as_deref().map(siret_of).transpose()?;
    let code = ActivationCode::parse(&form.code)
        .map_err(|e| OAuthError::api(StatusCode::BAD_REQUEST, "invalid_code", e.to_string()))?;
    let from = TriedFrom::Api {
        client_id: &claims.client_id,
        end_user_ip: end_user_ip(&state, &claims.client_id, form.end_user_ip.as_deref()).await?,
    };
    count_attempt(&state, &claims.sub, from)
        .await?
        .map_err(OAuthError::rate_limited)?;
    let by = UserId::from_stored(claims.sub.clone());
    let input = Redemption {
        by: &by,
        service_code: &service.code,
        siret: siret.as_ref(),
        code: &code,
        via: Some(&claims.client_id),
    };
    let key = state.kek.derive(codes::HASH_KEY_LABEL);
    let done = redeem_code(&state.db, &state.clock, &key, &input)
        .await
        .map_err(|refused| OAuthError::refused(&refused))?;
    let next = state.config.url(&pages::with_query(
        &format!("/acces/{}/charte", service.code),
        "",
        done.siret.as_str(),
    ));
    Ok(Json(json!({
        "service": service.code,
        "siret": done.siret.as_str(),
        "establishment": done.establishment,
        "access_manager": true,
        "next": next,
    }))
    .into_response())
}

/// `GET /api/v1/notifications` with the person's bearer token (scope `habilitations`): for the
/// token's service, whether they are Responsable des accès there, how many access requests wait
/// for them (the same count as the « Demandes d'accès » tab's badge:
/// [`requests::count_pending_for_manager`], over every establishment they manage) and the
/// provider's pages the relying party's side panel links to.
pub async fn notifications(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let claims = verified(&state, &headers).await?;
    person_only(&claims)?;
    if !claims.scope.split(' ').any(|s| s == claims::SCOPE) {
        return Err(OAuthError::insufficient_scope(format!(
            "Le scope {} est nécessaire.",
            claims::SCOPE
        )));
    }
    let service = service_of(&state, &claims.client_id).await?;
    let manager = !managers::establishments_of(&state.db, &claims.sub, &service.code)
        .await?
        .is_empty();
    let pending =
        requests::count_pending_for_manager(&state.db, &claims.sub, &service.code).await?;
    let requests_url = manager.then(|| {
        state
            .config
            .url(&format!("/acces/{}/gestion/demandes", service.code))
    });
    Ok(crate::web::no_store(Json(json!({
        "service": service.code,
        "access_manager": manager,
        "pending_access_requests": pending,
        "requests_url": requests_url,
        "account_url": state.config.url(ACCOUNT_PATH),
    }))))
}

/// A call from a service's back office: a valid access token with the codes scope, from a
/// client attached to a service.
pub struct BackOffice {
    claims: AccessClaims,
    service: Service,
}

impl FromRequestParts<AppState> for BackOffice {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, OAuthError> {
        let claims = verified(state, &parts.headers).await?;
        if !claims.scope.split(' ').any(|s| s == CODES_SCOPE) {
            return Err(OAuthError::insufficient_scope(format!(
                "Le scope {CODES_SCOPE} est nécessaire."
            )));
        }
        let service = service_of(state, &claims.client_id).await?;
        Ok(Self { claims, service })
    }
}

fn code_json(c: &codes::CodeInfo) -> serde_json::Value {
    json!({
        "id": c.id,
        "siret": c.siret,
        "status": match c.status {
            codes::CodeStatus::Live => "live",
            codes::CodeStatus::Expired => "expired",
            codes::CodeStatus::Revoked => "revoked",
            codes::CodeStatus::Redeemed(_) => "redeemed",
        },
        "issued_by": c.issued_by,
        "issued_at": c.issued_at,
        "expires_at": c.expires_at,
        "closed_at": c.closed_at,
    })
}

#[derive(Deserialize)]
struct IssueBody {
    siret: String,
}

/// `POST /api/v1/codes` `{"siret": "…"}`: a new code for that establishment, open in the
/// register (the previous unused one is revoked); the answer has what the postal letter needs,
/// the code included (the only time it is given).
pub async fn issue(
    State(state): State<AppState>,
    BackOffice { claims, service }: BackOffice,
    raw: Bytes,
) -> Result<Response, OAuthError> {
    let form: IssueBody = body(&raw)?;
    let siret = siret_of(&form.siret)?;
    let Issued {
        code: issued,
        establishment,
    } = issue_for_configured_days(&state, &claims.client_id, &service, &siret)
        .await
        .map_err(|refused| OAuthError::refused(&refused))?;
    let body = json!({
        "id": issued.id,
        "code": issued.code.as_str(),
        "service": service.code,
        "service_label": service.label,
        "siret": issued.siret,
        "establishment": establishment.name,
        "address": establishment.address,
        "postcode": establishment.postcode,
        "commune": establishment.commune,
        "expires_at": issued.expires_at,
        "redeem_url": state.config.url(&format!("/acces/{}", service.code)),
        // The letter tells whom to call, the same line as every page's footer.
        "assistance_phone": state.config.assistance.phone,
        "assistance_hours": state.config.assistance.hours,
    });
    Ok(crate::web::no_store((StatusCode::CREATED, Json(body))))
}

/// `?siret=`.
#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    siret: Option<String>,
}

/// `GET /api/v1/codes?siret=…`: the codes of the client's service (never the codes).
pub async fn list(
    State(state): State<AppState>,
    BackOffice { service, .. }: BackOffice,
    Query(q): Query<ListQuery>,
) -> Result<Response, OAuthError> {
    let siret = q
        .siret
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(siret_of)
        .transpose()?;
    let siret = siret.as_ref().map(Siret::as_str);
    let list = codes::list_at(&state.db, &service.code, siret, state.clock.now()).await?;
    Ok(Json(json!({
        "service": service.code,
        "codes": list.iter().map(code_json).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// `DELETE /api/v1/codes/{id}`: revokes an unused code of the client's service.
pub async fn revoke(
    State(state): State<AppState>,
    BackOffice { claims, service }: BackOffice,
    Path(id): Path<String>,
) -> Result<Response, OAuthError> {
    revoke_code(
        &state.db,
        &state.clock,
        &claims.client_id,
        &id,
        Some(&service.code),
    )
    .await
    .map_err(|refused| OAuthError::refused(&refused))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/establishments/{siret}`: the register's entry of an establishment, for a
/// service's back office about to issue a code (closed ones are shown, with `active: false`).
pub async fn establishment(
    State(state): State<AppState>,
    _: BackOffice,
    Path(siret): Path<String>,
) -> Result<Response, OAuthError> {
    let siret = siret_of(&siret)?;
    let Some(found) = register::by_siret(&state.db, &siret).await? else {
        return Err(OAuthError::api(
            StatusCode::NOT_FOUND,
            "not_found",
            "Aucun établissement du répertoire SIRENE ne porte ce SIRET.",
        ));
    };
    Ok(Json(json!({
        "siret": found.siret.as_str(),
        "siren": found.siren().as_str(),
        "name": found.name,
        "address": found.address,
        "postcode": found.postcode,
        "commune": found.commune,
        "active": found.active,
        "head_office": found.head_office,
    }))
    .into_response())
}
