//! The administration API of accounts (docs/api.md, docs/openapi.yaml): the support desk's
//! back office calls it with a `client_credentials` access token holding the `admin` scope, and
//! names the operator and the reason in each call (JSON body, or query for a `GET`). The same
//! actions as `idp users …`: every call is audited with the back-office client, the operator and
//! the reason.
//!
//! - `GET /api/v1/admin/users?email=&siret=&service=&agent=&disabled=&inactive_since=&limit=`
//! - `GET /api/v1/admin/users/{id}?operator=&reason=` (the summary), `…/{id}/export?…` (all)
//! - `POST /api/v1/admin/users/{id}/{disable|enable|unlock|reset-second-factor|end-sessions}`
//! - `PUT|DELETE /api/v1/admin/users/{id}/agent`, `DELETE /api/v1/admin/users/{id}`
//!
//! Errors use the protocol's envelope (`error`, `error_description`).

use axum::{
    Json,
    extract::{FromRequestParts, Path, Query, State},
    http::{StatusCode, request::Parts},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::json;

use super::{
    UserId,
    actions::{
        delete_account::{Deleter, delete_account},
        disable_account::disable_account,
        enable_account::enable_account,
        end_sessions::end_sessions,
        export_account::{Purpose, export_account},
        reset_second_factors::reset_second_factors,
        set_agent::set_agent,
        unlock_account::{UnlockError, unlock_account},
    },
    refusal::AccountRefusal,
    search::{self, Filter},
};
use crate::{
    AppState,
    admin::{AdminCall, OperatorName, Reason, Via},
    error::OAuthError,
    oidc::userinfo,
    organizations::Siret,
};

/// The scope a back-office client needs for the administration API.
pub const ADMIN_SCOPE: &str = "admin";

/// A call from the support desk's back office: a `client_credentials` token (the client's own,
/// never a person's) with the `admin` scope.
pub struct BackOffice {
    client_id: String,
}

impl FromRequestParts<AppState> for BackOffice {
    type Rejection = OAuthError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, OAuthError> {
        let claims = userinfo::verified(state, &parts.headers, None).await?;
        // A relying party could ask for `admin` in a person's login: such a token is not the
        // back office's.
        if claims.sub != claims.client_id || !claims.scope.split(' ').any(|s| s == ADMIN_SCOPE) {
            return Err(OAuthError::insufficient_scope(format!(
                "Un jeton client_credentials avec le scope {ADMIN_SCOPE} est nécessaire."
            )));
        }
        Ok(Self {
            client_id: claims.client_id,
        })
    }
}

/// Who and why, as a call names them.
#[derive(Deserialize)]
pub struct WhoWhy {
    #[serde(default)]
    operator: String,
    #[serde(default)]
    reason: String,
}

impl BackOffice {
    fn call(&self, who: &WhoWhy) -> Result<AdminCall, OAuthError> {
        let invalid = |e: crate::admin::AdminInputError| {
            OAuthError::api(StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
        };
        Ok(AdminCall {
            via: Via::Api {
                client_id: self.client_id.clone(),
            },
            operator: OperatorName::parse(&who.operator).map_err(invalid)?,
            reason: Reason::parse(&who.reason).map_err(invalid)?,
        })
    }
}

/// The JSON body of a call that changes something.
fn who_from(body: &[u8]) -> Result<WhoWhy, OAuthError> {
    serde_json::from_slice(body).map_err(|_| {
        OAuthError::api(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Corps JSON attendu : {\"operator\": \"…\", \"reason\": \"…\"}.",
        )
    })
}

fn refused(refusal: AccountRefusal) -> OAuthError {
    match refusal {
        AccountRefusal::Storage(e) => e.into(),
        other => OAuthError::refused(&other),
    }
}

/// Revocations, logout tokens or changes of an account were committed: this node's worker and
/// every node's list (and what the nodes know of accounts).
async fn after_revocations(state: &AppState, queued: usize) -> Result<(), OAuthError> {
    if queued > 0 {
        state.backchannel.wake();
    }
    state
        .revocations
        .changed(&state.db, &state.ephemeral)
        .await?;
    Ok(())
}

/// The filters of `GET /api/v1/admin/users`.
#[derive(Deserialize)]
pub struct ListQuery {
    email: Option<String>,
    siret: Option<String>,
    service: Option<String>,
    agent: Option<bool>,
    disabled: Option<bool>,
    /// Seconds.
    inactive_since: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/admin/users`.
pub async fn list(
    State(state): State<AppState>,
    _office: BackOffice,
    Query(q): Query<ListQuery>,
) -> Result<Response, OAuthError> {
    let siret = q
        .siret
        .as_deref()
        .map(Siret::parse)
        .transpose()
        .map_err(|e| OAuthError::api(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()))?;
    let filter = Filter {
        email_part: q.email.filter(|e| !e.trim().is_empty()),
        siret,
        service: q.service,
        agent: q.agent,
        disabled: q.disabled,
        inactive_since: q.inactive_since,
        limit: q.limit.unwrap_or(100),
    };
    let found = search::search(&state.db, &filter).await?;
    Ok(crate::web::no_store(Json(json!({ "users": found }))))
}

async fn file(
    state: &AppState,
    office: &BackOffice,
    id: String,
    who: &WhoWhy,
    purpose: Purpose,
) -> Result<Response, OAuthError> {
    let call = office.call(who)?;
    let now = state.clock.now();
    let file = export_account(&state.db, now, &call, &UserId::from_stored(id), purpose)
        .await
        .map_err(refused)?;
    Ok(crate::web::no_store(Json(file.to_json())))
}

/// `GET /api/v1/admin/users/{id}`: the file without the audit events.
pub async fn show(
    State(state): State<AppState>,
    office: BackOffice,
    Path(id): Path<String>,
    Query(who): Query<WhoWhy>,
) -> Result<Response, OAuthError> {
    file(&state, &office, id, &who, Purpose::Show).await
}

/// `GET /api/v1/admin/users/{id}/export`: everything, for a GDPR access request.
pub async fn export(
    State(state): State<AppState>,
    office: BackOffice,
    Path(id): Path<String>,
    Query(who): Query<WhoWhy>,
) -> Result<Response, OAuthError> {
    file(&state, &office, id, &who, Purpose::Export).await
}

/// `POST /api/v1/admin/users/{id}/{action}`.
pub async fn act(
    State(state): State<AppState>,
    office: BackOffice,
    Path((id, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    let call = office.call(&who_from(&body)?)?;
    let user = UserId::from_stored(id);
    let now = state.clock.now();
    let ttl = state.config.tokens.access_token_ttl_seconds;
    let db = &state.db;
    let outcome = match action.as_str() {
        "disable" => {
            let queued = disable_account(db, now, &call, &user, ttl)
                .await
                .map_err(refused)?;
            after_revocations(&state, queued).await?;
            json!({ "disabled": true, "logout_tokens": queued })
        }
        "enable" => {
            enable_account(db, now, &call, &user)
                .await
                .map_err(refused)?;
            after_revocations(&state, 0).await?;
            json!({ "disabled": false })
        }
        "end-sessions" => {
            let queued = end_sessions(db, now, &call, &user, ttl)
                .await
                .map_err(refused)?;
            after_revocations(&state, queued).await?;
            json!({ "sessions_ended": true, "logout_tokens": queued })
        }
        "reset-second-factor" => {
            let removed = reset_second_factors(db, now, &call, &user)
                .await
                .map_err(refused)?;
            json!({ "removed": removed })
        }
        "unlock" => {
            let found = unlock_account(db, &state.ephemeral, now, &call, &user)
                .await
                .map_err(|e| match e {
                    UnlockError::Refused(r) => refused(r),
                    UnlockError::Store(e) => e.into(),
                })?;
            json!({ "counters_cleared": found })
        }
        _ => {
            return Err(OAuthError::api(
                StatusCode::NOT_FOUND,
                "not_found",
                "Action inconnue.",
            ));
        }
    };
    Ok(crate::web::no_store(Json(outcome)))
}

/// `PUT /api/v1/admin/users/{id}/agent`.
pub async fn set_agent_flag(
    state: State<AppState>,
    office: BackOffice,
    id: Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    agent(state, office, id, &body, true).await
}

/// `DELETE /api/v1/admin/users/{id}/agent`.
pub async fn unset_agent_flag(
    state: State<AppState>,
    office: BackOffice,
    id: Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    agent(state, office, id, &body, false).await
}

async fn agent(
    State(state): State<AppState>,
    office: BackOffice,
    Path(id): Path<String>,
    body: &[u8],
    flag: bool,
) -> Result<Response, OAuthError> {
    let call = office.call(&who_from(body)?)?;
    let user = UserId::from_stored(id);
    set_agent(&state.db, state.clock.now(), &call, &user, flag)
        .await
        .map_err(refused)?;
    after_revocations(&state, 0).await?;
    Ok(crate::web::no_store(Json(json!({ "agent": flag }))))
}

/// `DELETE /api/v1/admin/users/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    office: BackOffice,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    let call = office.call(&who_from(&body)?)?;
    let user = UserId::from_stored(id);
    let ttl = state.config.tokens.access_token_ttl_seconds;
    let now = state.clock.now();
    let queued = delete_account(&state.db, now, &user, Deleter::Operator(&call), ttl)
        .await
        .map_err(refused)?;
    after_revocations(&state, queued).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
