//! The JSON API of access (docs/api.md, docs/openapi.yaml):
//! - `POST /api/v1/activation`, called by a relying party with the person's access token:
//!   redeems an activation code typed in the relying party's own page;
//! - `POST|GET /api/v1/codes`, `DELETE /api/v1/codes/{id}`, called by a service (or the
//!   ministry's back office) with a `client_credentials` token holding the `codes:issue`
//!   scope: issues, lists and revokes the codes of that client's service;
//! - `GET /api/v1/establishments/{siret}`, with the same token: the establishment a code is
//!   about to be issued for, as the register has it (the agent checks it before printing).
//!
//! Errors use the protocol's envelope (`error`, `error_description`).

use axum::{
    Json,
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    ActivationCode,
    activation::{ATTEMPT_WINDOW, ATTEMPTS_PER_IP, ATTEMPTS_PER_USER},
    codes, pages,
    services::{self, Service},
};
use crate::{
    AppState, audit,
    error::OAuthError,
    oidc::{
        tokens::{self, AccessClaims, AccessTokenError},
        userinfo::bearer,
    },
    organizations::{Siret, register},
    web::{client_ip::ClientIp, rate_limit},
};

/// The scope a service's back-office client needs for the codes API.
pub const CODES_SCOPE: &str = "codes:issue";

async fn verified(state: &AppState, headers: &HeaderMap) -> Result<AccessClaims, OAuthError> {
    let token = bearer(headers, None)?;
    tokens::verify_access_token(state, &token)
        .await
        .map_err(|e| match e {
            AccessTokenError::Db(e) => OAuthError::from(e),
            other => OAuthError::invalid_token(other.to_string()),
        })
}

async fn service_of(state: &AppState, client_id: &str) -> Result<Service, OAuthError> {
    services::of_client(&state.db, client_id)
        .await?
        .map(|(s, _)| s)
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
}

/// `POST /api/v1/activation` `{"code": "…", "siret": "…"?}` with the person's bearer token.
pub async fn redeem(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    raw: Bytes,
) -> Result<Response, OAuthError> {
    let claims = verified(&state, &headers).await?;
    if claims.sub == claims.client_id {
        return Err(OAuthError::api(
            StatusCode::FORBIDDEN,
            "user_token_required",
            "Un jeton d'accès délivré à une personne est nécessaire.",
        ));
    }
    let service = service_of(&state, &claims.client_id).await?;
    let form: RedeemBody = body(&raw)?;
    let siret = form.siret.as_deref().map(siret_of).transpose()?;
    let code = ActivationCode::parse(&form.code)
        .map_err(|e| OAuthError::api(StatusCode::BAD_REQUEST, "invalid_code", e.to_string()))?;
    rate_limit::hit(
        &state.ephemeral,
        "activation-user",
        &claims.sub,
        ATTEMPTS_PER_USER,
        ATTEMPT_WINDOW,
    )
    .await?
    .map_err(OAuthError::rate_limited)?;
    rate_limit::hit(
        &state.ephemeral,
        "activation-ip",
        &ip.key(),
        ATTEMPTS_PER_IP,
        ATTEMPT_WINDOW,
    )
    .await?
    .map_err(OAuthError::rate_limited)?;
    let key = state.kek.derive(codes::HASH_KEY_LABEL);
    let siret_str = siret.as_ref().map(Siret::as_str);
    match codes::redeem(
        &state.db,
        &key,
        &code,
        &service.code,
        siret_str,
        &claims.sub,
    )
    .await
    {
        Ok(done) => {
            audit::record_on_pool(
                &state.db,
                &claims.sub,
                "activation_code.redeemed",
                &done.siret,
                json!({"service": service.code, "code_id": done.id, "via": claims.client_id}),
            )
            .await?;
            let establishment = match Siret::parse(&done.siret) {
                Ok(s) => register::by_siret(&state.db, &s).await?.map(|e| e.name),
                Err(_) => None,
            };
            let next = state.config.url(&pages::with_query(
                &format!("/acces/{}/charte", service.code),
                "",
                &done.siret,
            ));
            Ok(Json(json!({
                "service": service.code,
                "siret": done.siret,
                "establishment": establishment,
                "access_manager": true,
                "next": next,
            }))
            .into_response())
        }
        Err(codes::RedeemError::Db(e)) => Err(e.into()),
        Err(refused) => {
            let error = match refused {
                codes::RedeemError::Unknown => "invalid_code",
                codes::RedeemError::WrongSiret => "wrong_siret",
                codes::RedeemError::Expired => "expired_code",
                codes::RedeemError::Revoked => "revoked_code",
                _ => "used_code",
            };
            audit::record_on_pool(
                &state.db,
                &claims.sub,
                "activation_code.refused",
                siret_str.unwrap_or(""),
                json!({"service": service.code, "reason": error, "via": claims.client_id}),
            )
            .await?;
            Err(OAuthError::api(
                StatusCode::BAD_REQUEST,
                error,
                refused.to_string(),
            ))
        }
    }
}

/// The service of a back-office token with the codes scope.
async fn back_office(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(AccessClaims, Service), OAuthError> {
    let claims = verified(state, headers).await?;
    if !claims.scope.split(' ').any(|s| s == CODES_SCOPE) {
        return Err(OAuthError::insufficient_scope(format!(
            "Le scope {CODES_SCOPE} est nécessaire."
        )));
    }
    let service = service_of(state, &claims.client_id).await?;
    Ok((claims, service))
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

/// `POST /api/v1/codes` `{"siret": "…"}`: a new code for that establishment (the previous
/// unused one is revoked); the answer has what the postal letter needs, the code included
/// (the only time it is given).
pub async fn issue(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Bytes,
) -> Result<Response, OAuthError> {
    let (claims, service) = back_office(&state, &headers).await?;
    let form: IssueBody = body(&raw)?;
    let siret = siret_of(&form.siret)?;
    let establishment = register::by_siret(&state.db, &siret).await?;
    if establishment.as_ref().is_some_and(|e| !e.active) {
        return Err(OAuthError::api(
            StatusCode::CONFLICT,
            "closed_establishment",
            "Cet établissement est fermé dans le répertoire SIRENE : il ne peut pas recevoir de code d'activation.",
        ));
    }
    let key = state.kek.derive(codes::HASH_KEY_LABEL);
    let ttl = i64::from(state.config.access.activation_code_ttl_days) * 86_400;
    let issued = codes::issue(
        &state.db,
        &key,
        &service.code,
        siret.as_str(),
        &claims.client_id,
        ttl,
    )
    .await?;
    audit::record_on_pool(
        &state.db,
        &claims.client_id,
        "activation_code.issued",
        siret.as_str(),
        json!({"service": service.code, "code_id": issued.id}),
    )
    .await?;
    let body = json!({
        "id": issued.id,
        "code": issued.code.as_str(),
        "service": service.code,
        "service_label": service.label,
        "siret": issued.siret,
        "establishment": establishment.as_ref().map(|e| e.name.clone()),
        "address": establishment.as_ref().map(|e| e.address.clone()),
        "postcode": establishment.as_ref().map(|e| e.postcode.clone()),
        "commune": establishment.as_ref().map(|e| e.commune.clone()),
        "expires_at": issued.expires_at,
        "redeem_url": state.config.url(&format!("/acces/{}", service.code)),
    });
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(response)
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
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, OAuthError> {
    let (_, service) = back_office(&state, &headers).await?;
    let siret = q
        .siret
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(siret_of)
        .transpose()?;
    let list = codes::list(&state.db, &service.code, siret.as_ref().map(Siret::as_str)).await?;
    Ok(Json(json!({
        "service": service.code,
        "codes": list.iter().map(code_json).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// `DELETE /api/v1/codes/{id}`: revokes an unused code of the client's service.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, OAuthError> {
    let (claims, service) = back_office(&state, &headers).await?;
    let not_found = || {
        OAuthError::api(
            StatusCode::NOT_FOUND,
            "not_found",
            "Aucun code de ce service ne porte cet identifiant.",
        )
    };
    let Some(code) = codes::by_id(&state.db, &id).await? else {
        return Err(not_found());
    };
    if code.service_code != service.code {
        return Err(not_found());
    }
    if !codes::revoke(&state.db, &id).await? {
        return Err(OAuthError::api(
            StatusCode::CONFLICT,
            "not_revocable",
            "Ce code a déjà été utilisé ou révoqué.",
        ));
    }
    audit::record_on_pool(
        &state.db,
        &claims.client_id,
        "activation_code.revoked",
        &code.siret,
        json!({"service": service.code, "code_id": id}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/v1/establishments/{siret}`: the register's entry of an establishment, for a
/// service's back office about to issue a code (closed ones are shown, with `active: false`).
pub async fn establishment(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(siret): Path<String>,
) -> Result<Response, OAuthError> {
    back_office(&state, &headers).await?;
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
