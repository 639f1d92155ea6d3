//! The authorization endpoint (`GET`/`POST /authorize`): checks the request, sends the person
//! through login and consent as needed, and returns a single-use code to the client.
//!
//! Errors about the client or its redirect URI are shown as a page and never redirect (an
//! unregistered URI must not receive anything); every other error goes back to the client
//! with `error`, `error_description`, `state` and `iss` (RFC 9207).

mod params;

use params::check;
use std::time::Duration;

use axum::{
    extract::{Query, RawForm, State},
    http::HeaderMap,
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

pub use super::pending::{AuthorizationRequest, PendingAuthorization};
use super::{
    assurance::{self, Level},
    claims::ClaimsRequest,
    clients::Client,
    grants::{self, Grant},
    pending::pending_key,
};
use crate::{
    AppState,
    access::habilitations,
    accounts::{session::LoginSession, totp},
    error::PageError,
    secrets,
    store::now,
    web::security_headers,
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
    /// When it stops being redeemable (seconds, the provider's clock); the shared store also
    /// forgets it then.
    #[serde(default)]
    pub expires_at: Option<i64>,
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
    crate::web::request_id::record_client(&client.client_id);
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

/// What the person must go through before the code, in this order.
enum Interaction {
    /// No session, or one too old or refused by `prompt=login`.
    Login,
    /// The client asks for (`requested`), or a policy requires, a level of two factors and
    /// this session was opened with a password alone: the person proves the second factor (or
    /// enrols one), without the password again.
    SecondFactor {
        /// The client asked for it (rather than a policy).
        requested: bool,
    },
    /// The level the client requires cannot be reached by any interaction (unknown essential
    /// `acr`, or an establishment link this person does not have): refused to the client,
    /// whatever `prompt`.
    Unmet,
    /// The client requires a habilitation of this service and the person has none: the
    /// service's no-access page (activation code, access request).
    Access(String),
    /// Scopes not consented to yet, or `prompt=consent`.
    Consent,
}

impl Interaction {
    /// The `error` and description when `prompt=none` forbids it.
    fn refused(&self) -> (&'static str, &'static str) {
        match self {
            Self::Login => ("login_required", "L'utilisateur doit s'authentifier."),
            Self::SecondFactor { requested: true } => (
                "unmet_authentication_requirements",
                "L'utilisateur doit confirmer sa connexion avec un second facteur.",
            ),
            Self::SecondFactor { requested: false } => (
                "interaction_required",
                "L'utilisateur doit confirmer sa connexion avec un code de vérification.",
            ),
            Self::Unmet => (
                "unmet_authentication_requirements",
                "Le niveau d'authentification demandé ne peut pas être atteint pour cet utilisateur.",
            ),
            Self::Access(_) => (
                "interaction_required",
                "L'utilisateur n'a pas d'habilitation pour ce service.",
            ),
            Self::Consent => (
                "consent_required",
                "L'utilisateur doit donner son consentement.",
            ),
        }
    }

    /// The page of the interaction, which resumes the parked request `id` afterwards.
    async fn page(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        session: Option<&LoginSession>,
        id: &str,
    ) -> Result<Response, PageError> {
        let to = match (self, session) {
            (Self::SecondFactor { .. }, Some(session)) => {
                if totp::has_second_factor(state, &session.user_id).await? {
                    let page = crate::web::page::Page::new(state, headers);
                    return totp::ask_code(&page, &session.user_id, id).await;
                }
                totp::remember_return(state, &session.sid, id).await?;
                "/compte/double-authentification".to_owned()
            }
            (Self::Access(service), _) => format!("/acces/{service}?authreq={id}"),
            (Self::Consent, _) => format!("/consentement?authreq={id}"),
            _ => format!("/connexion?authreq={id}"),
        };
        Ok(Redirect::to(&to).into_response())
    }
}

/// The first interaction this request still needs with this session; the session itself when
/// none is left (then the code can be issued).
async fn interaction<'s>(
    state: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
    session: Option<&'s LoginSession>,
) -> Result<Result<&'s LoginSession, Interaction>, PageError> {
    if assurance::requested(request, &state.config.assurance).unknown_essential {
        return Ok(Err(Interaction::Unmet));
    }
    let Some(session) = session else {
        return Ok(Err(Interaction::Login));
    };
    // A login that happened during this request satisfies prompt=login and max_age.
    let fresh = request.logged_in_sid.as_deref() == Some(session.sid.as_str());
    let too_old = request.prompt.iter().any(|p| p == "login")
        || request
            .max_age
            .is_some_and(|max| state.clock.now() - session.auth_time > max);
    if !fresh && too_old {
        return Ok(Err(Interaction::Login));
    }
    if let Some(needed) = level_needed(state, client, request, session).await? {
        return Ok(Err(needed));
    }
    if let Some(link) = state.clients.link(&state.db, &client.client_id).await?
        && link.requires_habilitation
        && habilitations::live(&state.db, &session.user_id, &link.service.code)
            .await?
            .is_empty()
    {
        return Ok(Err(Interaction::Access(link.service.code)));
    }
    if !client.skip_consent && !request.consented {
        let granted =
            grants::consented_scopes(&state.db, &session.user_id, &client.client_id).await?;
        let missing = request
            .consent_scopes()
            .iter()
            .any(|s| !granted.contains(s));
        if missing || request.prompt.iter().any(|p| p == "consent") {
            return Ok(Err(Interaction::Consent));
        }
    }
    Ok(Ok(session))
}

/// The interaction the authentication level needs, if the session does not reach it: what the
/// client asks for (`acr_values`, `claims`) and what policies require.
async fn level_needed(
    state: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
    session: &LoginSession,
) -> Result<Option<Interaction>, PageError> {
    let requested = assurance::requested(request, &state.config.assurance);
    if requested.unknown_essential {
        return Ok(Some(Interaction::Unmet));
    }
    let asked = requested.minimum();
    let policy =
        assurance::required_by_policy(state, client, &session.user_id, session.upstream.as_deref())
            .await?;
    let Some(needed) = asked.max(policy) else {
        return Ok(None);
    };
    let reached = assurance::reached(state, session).await?;
    if reached >= needed {
        return Ok(None);
    }
    if needed == Level::Establishment
        && !crate::access::managers::link_checked(&state.db, &session.user_id).await?
    {
        return Ok(Some(Interaction::Unmet));
    }
    Ok(Some(Interaction::SecondFactor {
        requested: asked.is_some_and(|a| a > reached),
    }))
}

/// Login, second factor, access, consent, then the code: each step resumes here through
/// `/authorize/continue`.
async fn proceed(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
    request: AuthorizationRequest,
) -> Result<Response, PageError> {
    let session = LoginSession::from_headers(state, headers).await?;
    let needed = match interaction(state, client, &request, session.as_ref()).await? {
        Ok(session) => return issue_code(state, client, &request, session).await,
        Err(needed) => needed,
    };
    if request.prompt.iter().any(|p| p == "none") || matches!(needed, Interaction::Unmet) {
        let (error, description) = needed.refused();
        let (to, client_state) = (&request.redirect_uri, request.state.as_deref());
        let redirect = ErrorRedirect::new(state, to, client_state, error, description);
        return Ok(redirect.into_response());
    }
    let id = park(state, client, &request).await?;
    let mut response = needed.page(state, headers, session.as_ref(), &id).await?;
    // The pages of this request may end at the client: their forms may lead there.
    let secure = state.config.session.secure_cookies;
    security_headers::remember_return(&mut response, &request.redirect_uri, secure);
    Ok(response)
}

/// The authorization code, kept for its lifetime, and the redirect that carries it.
async fn issue_code(
    state: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
    session: &LoginSession,
) -> Result<Response, PageError> {
    let code = secrets::random_token(32);
    // The level this session honestly reached, named as the client asked for it if it did.
    let reached = assurance::reached(state, session).await?;
    let acr = assurance::requested(request, &state.config.assurance)
        .acr_for(reached, &state.config.assurance);
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
            acr,
            amr: session.amr.clone(),
            sid: session.sid.clone(),
            upstream: session.upstream.clone(),
        },
        expires_at: Some(
            state.clock.now()
                + i64::try_from(state.config.tokens.code_ttl_seconds).unwrap_or(i64::MAX),
        ),
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
    let to = with_query(&request.redirect_uri, &pairs);
    Ok(crate::web::no_store(Redirect::to(&to)))
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
