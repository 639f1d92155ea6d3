//! The authorization endpoint (`GET`/`POST /authorize`): checks the request, sends the person
//! through login and consent as needed, and returns a single-use code to the client.
//!
//! Errors about the client or its redirect URI are shown as a page and never redirect (an
//! unregistered URI must not receive anything); every other error goes back to the client
//! with `error`, `error_description`, `state` and `iss` (RFC 9207).

use std::{collections::HashMap, time::Duration};

use axum::{
    extract::{Query, RawForm, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

pub use super::pending::{AuthorizationRequest, PendingAuthorization};
use super::{
    claims::ClaimsRequest,
    clients::Client,
    grants::{self, Grant},
    pending::pending_key,
};
use crate::{
    AppState,
    access::{habilitations, services},
    accounts::{session::LoginSession, totp},
    error::PageError,
    secrets,
    store::now,
};

/// What a code stands for until it is exchanged.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CodeData {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI it was sent to (must be repeated at the token endpoint).
    pub redirect_uri: String,
    /// Nonce for the ID token.
    pub nonce: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// The grant to create at exchange.
    pub grant: Grant,
}

/// Key of a live code in the shared store.
pub fn code_key(code: &str) -> String {
    format!("code:{}", secrets::hash(code))
}

/// Key of a spent code's tombstone: a second use revokes what the first produced.
pub fn spent_code_key(code: &str) -> String {
    format!("code-spent:{}", secrets::hash(code))
}

/// `GET /authorize`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    authorize(&state, &headers, params).await
}

/// `POST /authorize` (form-encoded, same parameters).
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    authorize(&state, &headers, params).await
}

async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    params: Vec<(String, String)>,
) -> Response {
    let (client, request) = match check(state, params).await {
        Ok(checked) => checked,
        Err(Refusal::Page(page)) => return page.into_response(),
        Err(Refusal::Redirect(redirect)) => return redirect.into_response(),
    };
    proceed(state, headers, &client, request)
        .await
        .unwrap_or_else(|e| e.into_response())
}

/// An authorization error sent back to the client.
pub struct ErrorRedirect {
    uri: String,
}

impl ErrorRedirect {
    fn new(
        state: &AppState,
        redirect_uri: &str,
        client_state: Option<&str>,
        error: &str,
        description: &str,
    ) -> Self {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if let Some(s) = client_state {
            pairs.push(("state", s));
        }
        pairs.push(("iss", state.config.issuer.as_str()));
        Self {
            uri: with_query(redirect_uri, &pairs),
        }
    }
}

impl IntoResponse for ErrorRedirect {
    fn into_response(self) -> Response {
        Redirect::to(&self.uri).into_response()
    }
}

fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(uri).expect("registered redirect URIs are absolute URLs");
    url.query_pairs_mut().extend_pairs(pairs);
    url.to_string()
}

enum Refusal {
    Page(PageError),
    Redirect(ErrorRedirect),
}

const PARAMS: [&str; 19] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "login_hint",
    "acr_values",
    "claims",
    "ui_locales",
    "display",
    "code_challenge",
    "code_challenge_method",
    "request",
    "request_uri",
    "response_mode",
    "id_token_hint",
];

async fn check(
    state: &AppState,
    pairs: Vec<(String, String)>,
) -> Result<(Client, AuthorizationRequest), Refusal> {
    let mut params: HashMap<&str, String> = HashMap::new();
    let mut repeated = None;
    for (k, v) in &pairs {
        // Unknown parameters are ignored (Core §3.1.2.1); known ones must appear once.
        if let Some(name) = PARAMS.iter().find(|p| **p == k)
            && params.insert(name, v.clone()).is_some()
        {
            repeated = Some(*name);
        }
    }
    let get = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();

    let Some(client_id) = get("client_id") else {
        return Err(Refusal::Page(PageError::bad_request(
            "La demande d'autorisation ne précise pas l'application (client_id manquant).",
        )));
    };
    let client = match state.clients.get(&state.db, &client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => {
            return Err(Refusal::Page(PageError::bad_request(
                "L'application qui vous a redirigé ici n'est pas enregistrée auprès d'EFP Connect.",
            )));
        }
        Err(e) => return Err(Refusal::Page(e.into())),
    };
    let Some(redirect_uri) = get("redirect_uri") else {
        return Err(Refusal::Page(PageError::bad_request(
            "La demande d'autorisation ne précise pas l'adresse de retour (redirect_uri manquant).",
        )));
    };
    if !client.has_redirect_uri(&redirect_uri) {
        return Err(Refusal::Page(PageError::bad_request(
            "L'adresse de retour demandée n'est pas enregistrée pour cette application. Par sécurité, vous n'y avez pas été redirigé.",
        )));
    }
    if !client.allows_grant("authorization_code") {
        return Err(Refusal::Page(PageError::bad_request(
            "Cette application n'est pas autorisée à connecter des utilisateurs.",
        )));
    }
    // From here on the redirect URI is trusted: errors go back to the client.
    let client_state = get("state");
    let fail = |error: &str, description: &str| {
        Refusal::Redirect(ErrorRedirect::new(
            state,
            &redirect_uri,
            client_state.as_deref(),
            error,
            description,
        ))
    };
    if let Some(name) = repeated {
        return Err(fail(
            "invalid_request",
            &format!("Le paramètre {name} est répété."),
        ));
    }
    if get("request").is_some() {
        return Err(fail(
            "request_not_supported",
            "Les objets de requête (request) ne sont pas pris en charge.",
        ));
    }
    if get("request_uri").is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "Le paramètre request_uri n'est pas pris en charge.",
        ));
    }
    match get("response_type").as_deref() {
        Some("code") => {}
        None => {
            return Err(fail(
                "invalid_request",
                "Le paramètre response_type est obligatoire.",
            ));
        }
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "Seul response_type=code est pris en charge.",
            ));
        }
    }
    if let Some(mode) = get("response_mode")
        && mode != "query"
    {
        return Err(fail(
            "invalid_request",
            "Seul response_mode=query est pris en charge.",
        ));
    }
    let requested: Vec<String> = get("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !requested.iter().any(|s| s == "openid") {
        return Err(fail("invalid_scope", "Le scope openid est obligatoire."));
    }
    // Scopes the client may not have, or we do not know, are dropped rather than refused.
    let mut scopes: Vec<String> = Vec::new();
    for s in requested {
        if (s == "openid" || client.scopes.contains(&s)) && !scopes.contains(&s) {
            scopes.push(s);
        }
    }
    let code_challenge = get("code_challenge");
    match (
        code_challenge.as_deref(),
        get("code_challenge_method").as_deref(),
    ) {
        (Some(_), Some("S256")) => {}
        (Some(_), None) | (Some(_), Some("plain")) => {
            return Err(fail(
                "invalid_request",
                "Seule la méthode PKCE S256 est acceptée (code_challenge_method=S256).",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(fail(
                "invalid_request",
                "Méthode PKCE inconnue : seule S256 est acceptée.",
            ));
        }
        (None, Some(_)) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method sans code_challenge.",
            ));
        }
        (None, None) if client.is_public() => {
            return Err(fail(
                "invalid_request",
                "PKCE (code_challenge, S256) est obligatoire pour les applications publiques.",
            ));
        }
        (None, None) => {}
    }
    if let Some(challenge) = &code_challenge
        && (challenge.len() != 43
            || !challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    {
        return Err(fail(
            "invalid_request",
            "code_challenge doit être un SHA-256 en base64url (43 caractères).",
        ));
    }
    let prompt: Vec<String> = get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if prompt
        .iter()
        .any(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return Err(fail("invalid_request", "Valeur de prompt inconnue."));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(fail(
            "invalid_request",
            "prompt=none ne peut être combiné à une autre valeur.",
        ));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(raw) => match raw.parse::<i64>() {
            Ok(v) if v >= 0 => Some(v),
            _ => {
                return Err(fail(
                    "invalid_request",
                    "max_age doit être un nombre entier de secondes.",
                ));
            }
        },
    };
    let mut claim_scopes = Vec::new();
    let claims = match get("claims") {
        None => None,
        Some(raw) => {
            ClaimsRequest::parse(&raw)
                .map_err(|description| fail("invalid_request", &description))?;
            let (restricted, implied) = super::claims::restrict(&raw, &client.scopes);
            claim_scopes = implied;
            Some(restricted)
        }
    };
    let acr_values = get("acr_values")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let request = AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        scopes,
        state: client_state,
        nonce: get("nonce"),
        prompt,
        max_age,
        login_hint: get("login_hint"),
        acr_values,
        claims,
        code_challenge,
        created_at: now(),
        logged_in_sid: None,
        claim_scopes,
        consented: false,
    };
    Ok((client, request))
}

/// Keeps the request while the person goes through a page (login, second factor, access,
/// consent); returns the id that page carries and resumes with.
async fn park(
    state: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
) -> Result<String, PageError> {
    let id = secrets::random_token(16);
    PendingAuthorization {
        request: request.clone(),
        client_name: client.name.clone(),
    }
    .save(state, &id)
    .await?;
    Ok(id)
}

/// Login, consent, then the code: each step resumes here through `/authorize/continue`.
async fn proceed(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    request: AuthorizationRequest,
) -> Result<Response, PageError> {
    let fail = |error: &str, description: &str| {
        ErrorRedirect::new(
            state,
            &request.redirect_uri,
            request.state.as_deref(),
            error,
            description,
        )
        .into_response()
    };
    let prompt_none = request.prompt.iter().any(|p| p == "none");
    let session = LoginSession::from_headers(state, headers).await?;
    let t = now();
    let needs_login = match &session {
        None => true,
        // A login that happened during this request satisfies prompt=login and max_age.
        Some(s) if request.logged_in_sid.as_deref() == Some(s.sid.as_str()) => false,
        Some(s) => {
            request.prompt.iter().any(|p| p == "login")
                || request.max_age.is_some_and(|max| t - s.auth_time > max)
        }
    };
    if needs_login {
        if prompt_none {
            return Ok(fail("login_required", "L'utilisateur doit s'authentifier."));
        }
        let id = park(state, client, &request).await?;
        return Ok(Redirect::to(&format!("/connexion?authreq={id}")).into_response());
    }
    let session = session.expect("a session exists when no login is needed");

    // Step-up: the client accepts only `mfa` and this session was opened with a password
    // alone. The person proves the second factor (or enrols one) and the request resumes.
    if request.requires_mfa() && session.acr != "mfa" {
        if prompt_none {
            return Ok(fail(
                "interaction_required",
                "L'utilisateur doit confirmer sa connexion avec un code de vérification.",
            ));
        }
        let id = park(state, client, &request).await?;
        if totp::is_enrolled(&state.db, &session.user_id).await? {
            return totp::ask_code(state, headers, &session.user_id, &id).await;
        }
        totp::remember_return(state, &session.sid, &id).await?;
        return Ok(Redirect::to("/compte/double-authentification").into_response());
    }

    // A client that requires a habilitation does not get a person without one: they see the
    // service's no-access page (activation code, access request) and come back here after.
    if let Some((service, true)) = services::of_client(&state.db, &client.client_id).await?
        && habilitations::live(&state.db, &session.user_id, &service.code)
            .await?
            .is_empty()
    {
        if prompt_none {
            return Ok(fail(
                "interaction_required",
                "L'utilisateur n'a pas d'habilitation pour ce service.",
            ));
        }
        let id = park(state, client, &request).await?;
        return Ok(Redirect::to(&format!("/acces/{}?authreq={id}", service.code)).into_response());
    }

    if !client.skip_consent && !request.consented {
        let granted =
            grants::consented_scopes(&state.db, &session.user_id, &client.client_id).await?;
        let missing = request
            .consent_scopes()
            .iter()
            .any(|s| !granted.contains(s));
        if missing || request.prompt.iter().any(|p| p == "consent") {
            if prompt_none {
                return Ok(fail(
                    "consent_required",
                    "L'utilisateur doit donner son consentement.",
                ));
            }
            let id = park(state, client, &request).await?;
            return Ok(Redirect::to(&format!("/consentement?authreq={id}")).into_response());
        }
    }

    let code = secrets::random_token(32);
    let data = CodeData {
        client_id: client.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        nonce: request.nonce.clone(),
        code_challenge: request.code_challenge.clone(),
        grant: Grant {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: session.user_id.clone(),
            client_id: client.client_id.clone(),
            scope: request.scopes.join(" "),
            claims: request.claims.clone(),
            auth_time: session.auth_time,
            acr: session.acr.clone(),
            amr: session.amr.clone(),
            sid: session.sid.clone(),
        },
    };
    let ttl = Duration::from_secs(state.config.tokens.code_ttl_seconds);
    state
        .ephemeral
        .put(
            &code_key(&code),
            &serde_json::to_string(&data).expect("code serialises"),
            ttl,
        )
        .await?;
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &request.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", state.config.issuer.as_str()));
    let mut response = Redirect::to(&with_query(&request.redirect_uri, &pairs)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// Query naming a pending request.
#[derive(Deserialize)]
pub struct PendingQuery {
    /// Pending request id.
    #[serde(default)]
    pub authreq: String,
}

/// `GET /authorize/continue`: resumes a pending request after login.
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PendingQuery>,
) -> Result<Response, PageError> {
    resume_pending(&state, &headers, &q.authreq, |_| {}).await
}

/// Resumes the pending request `id`, after `update` marks what the person just did.
pub async fn resume_pending(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    update: impl FnOnce(&mut AuthorizationRequest),
) -> Result<Response, PageError> {
    let Some(mut pending) = PendingAuthorization::load(state, id).await? else {
        return Err(PageError::bad_request(
            "Cette demande de connexion a expiré. Veuillez retourner sur l'application et recommencer.",
        ));
    };
    state.ephemeral.delete(&pending_key(id)).await?;
    let Some(client) = state
        .clients
        .get(&state.db, &pending.request.client_id)
        .await?
    else {
        return Err(PageError::bad_request(
            "L'application qui vous a redirigé ici n'est plus enregistrée auprès d'EFP Connect.",
        ));
    };
    update(&mut pending.request);
    proceed(state, headers, &client, pending.request).await
}

/// An access-denied answer to the client for the pending request `id`.
pub async fn deny(state: &AppState, id: &str) -> Result<Response, PageError> {
    let Some(pending) = PendingAuthorization::load(state, id).await? else {
        return Err(PageError::bad_request(
            "Cette demande de connexion a expiré. Veuillez retourner sur l'application et recommencer.",
        ));
    };
    state.ephemeral.delete(&pending_key(id)).await?;
    let r = &pending.request;
    Ok(ErrorRedirect::new(
        state,
        &r.redirect_uri,
        r.state.as_deref(),
        "access_denied",
        "L'utilisateur a refusé l'accès.",
    )
    .into_response())
}
