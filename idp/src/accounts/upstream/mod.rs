//! « AGENT DU MINISTÈRE »: ministry agents log in with the identity the State gives them, at an
//! upstream OpenID provider (docs/accounts.md « Agents »). This provider is its relying party
//! ([`rp`]): `GET /connexion/agent/{id}` sends the browser there (code flow, PKCE, `state`,
//! `nonce`, kept in the shared store and bound to the browser by a cookie), `GET
//! /connexion/agent/retour` comes back, checks everything, and logs the person in through the
//! link `(issuer, sub)` ([`super::upstream_links`]): the first login of an allowed domain
//! creates the account; an existing account with the same address is linked only after its
//! password (`/connexion/agent/rattacher`). Failures: a French page, nothing written but the
//! audit event.

pub mod rp;

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::{Path, Query},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use self::rp::UpstreamError;
use super::{
    Email, UserId,
    actions::agent_login::{self, UpstreamIdentity},
    refusal::AccountRefusal,
    session::{UpstreamLogout, ViaUpstream},
    store::{self, NewUser},
    upstream_links,
};
use crate::{
    AppState,
    config::UpstreamConfig,
    error::PageError,
    secrets,
    web::{
        client_ip::ClientIp,
        cookies,
        page::{CsrfForm, Page, safe_return},
        rate_limit,
    },
};

/// The path of the callback (the `redirect_uri` registered at every upstream).
pub const CALLBACK_PATH: &str = "/connexion/agent/retour";
/// The page asking the password of an existing account before it is linked.
pub const LINK_PATH: &str = "/connexion/agent/rattacher";
/// Where an upstream sends the browser back after its logout (its registered
/// `post_logout_redirect_uri`): our logout goes on from there.
pub const LOGOUT_RETURN_PATH: &str = "/deconnexion/agent";
/// The cookie binding a login at the upstream to the browser that started it.
const BINDING_COOKIE: &str = "idp_upstream";

/// The routes of the agents' login.
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    axum::Router::new()
        .route(CALLBACK_PATH, get(callback))
        .route(LINK_PATH, get(link_get).post(link_submit))
        .route("/connexion/agent/{id}", get(start))
}

fn upstream<'a>(state: &'a AppState, id: &str) -> Option<&'a UpstreamConfig> {
    state.config.agents.upstreams.iter().find(|u| u.id == id)
}

fn timeout(state: &AppState) -> Duration {
    Duration::from_secs(state.config.agents.timeout_seconds)
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.config.issuer)
}

/// A login waiting at the upstream, under the hash of its `state`.
#[derive(Serialize, Deserialize)]
struct Started {
    upstream: String,
    discovery: rp::Discovery,
    nonce: String,
    verifier: String,
    /// Hash of the browser's binding cookie.
    binding: String,
    authreq: String,
    retour: String,
}

fn started_key(state: &str) -> String {
    format!("upstream-login:{}", secrets::hash(state))
}

/// The French page of a failed agent login; the audit event is written first.
async fn failed(state: &AppState, upstream: &str, error: UpstreamError) -> PageError {
    tracing::warn!(upstream, reason = error.code(), "agent login failed");
    let now = state.clock.now();
    let upstream_error = match &error {
        UpstreamError::Refused(e) => Some(e.as_str()),
        _ => None,
    };
    let recorded =
        agent_login::login_failed(&state.db, now, upstream, error.code(), upstream_error).await;
    if let Err(e) = recorded {
        return PageError::internal("upstream audit", &e);
    }
    let status = match error {
        UpstreamError::Unavailable(_) => StatusCode::BAD_GATEWAY,
        UpstreamError::Refused(_) | UpstreamError::DomainNotAllowed => StatusCode::FORBIDDEN,
        UpstreamError::BadToken(_) => StatusCode::BAD_GATEWAY,
    };
    PageError::new(status, "Connexion agent impossible", error.to_string())
}

async fn limit(state: &AppState, ip: &ClientIp) -> Result<(), PageError> {
    let limits = &state.config.limits;
    rate_limit::hit(
        &state.ephemeral,
        "upstream-ip",
        &ip.key(),
        limits.login_per_ip,
        Duration::from_secs(limits.login_window_seconds),
    )
    .await??;
    Ok(())
}

/// Query of the button.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct StartQuery {
    authreq: String,
    retour: String,
}

/// `GET /connexion/agent/{id}`: to the upstream's login.
pub async fn start(
    page: Page,
    ip: ClientIp,
    Path(id): Path<String>,
    Query(q): Query<StartQuery>,
) -> Result<Response, PageError> {
    let Some(upstream) = upstream(&page, &id) else {
        return Err(PageError::not_found());
    };
    limit(&page, &ip).await?;
    let discovery = match rp::discover(upstream, timeout(&page)).await {
        Ok(d) => d,
        Err(e) => return Err(failed(&page, &id, e).await),
    };
    let state_token = secrets::random_token(32);
    let nonce = secrets::random_token(32);
    let verifier = secrets::random_token(32);
    let binding = secrets::random_token(32);
    let url = match rp::authorization_url(
        &discovery,
        upstream,
        &redirect_uri(&page),
        &state_token,
        &nonce,
        &secrets::pkce_s256(&verifier),
    ) {
        Ok(url) => url,
        Err(e) => return Err(failed(&page, &id, e).await),
    };
    let started = Started {
        upstream: id,
        discovery,
        nonce,
        verifier,
        binding: secrets::hash(&binding),
        authreq: q.authreq,
        retour: safe_return(&q.retour).unwrap_or_default().to_owned(),
    };
    let ttl = Duration::from_secs(page.config.agents.login_ttl_seconds);
    let raw = serde_json::to_string(&started).map_err(|e| PageError::internal("upstream", &e))?;
    page.ephemeral
        .put(&started_key(&state_token), &raw, ttl)
        .await?;
    let secure = page.config.session.secure_cookies;
    let cookie = cookies::set(BINDING_COOKIE, &binding, secure, Some(ttl.as_secs()));
    let mut response = Redirect::to(&url).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Query of the callback.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CallbackQuery {
    state: String,
    code: String,
    error: String,
    /// RFC 9207: who answered.
    iss: Option<String>,
}

fn login_expired() -> PageError {
    PageError::bad_request(
        "Votre connexion d'agent a expiré ou n'a pas été commencée sur ce navigateur. Veuillez cliquer à nouveau sur « AGENT DU MINISTÈRE ».",
    )
}

/// `GET /connexion/agent/retour`: back from the upstream. The binding cookie, spent, is cleared.
pub async fn callback(
    page: Page,
    ip: ClientIp,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let mut response = come_back(&page, &ip, q).await?;
    let secure = page.config.session.secure_cookies;
    let cleared = cookies::set(BINDING_COOKIE, "", secure, Some(0));
    response.headers_mut().append(header::SET_COOKIE, cleared);
    Ok(response)
}

async fn come_back(page: &Page, ip: &ClientIp, q: CallbackQuery) -> Result<Response, PageError> {
    limit(page, ip).await?;
    if q.state.is_empty() || q.state.len() > 128 {
        return Err(login_expired());
    }
    // Single use: a replayed callback finds nothing.
    let raw = page.ephemeral.take(&started_key(&q.state)).await?;
    let started: Started = raw
        .and_then(|r| serde_json::from_str(&r).ok())
        .ok_or_else(login_expired)?;
    let secure = page.config.session.secure_cookies;
    let bound = cookies::get(page.headers(), BINDING_COOKIE, secure).is_some_and(|b| {
        secrets::constant_time_eq(secrets::hash(&b).as_bytes(), started.binding.as_bytes())
    });
    if !bound {
        return Err(login_expired());
    }
    let id = started.upstream.clone();
    let Some(upstream) = upstream(page, &id) else {
        return Err(login_expired());
    };
    // Before anything the answer says, its own error included: it may be another provider's.
    if let Err(e) = rp::check_response_issuer(&started.discovery, q.iss.as_deref()) {
        return Err(failed(page, &id, e).await);
    }
    if !q.error.is_empty() {
        // An RFC 6749 error code: a short ASCII word, kept as such in the audit.
        let code = q
            .error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        let error = UpstreamError::Refused(code);
        return Err(failed(page, &id, error).await);
    }
    let done = rp::complete(
        &started.discovery,
        upstream,
        &redirect_uri(page),
        &q.code,
        &started.verifier,
        &started.nonce,
        timeout(page),
    )
    .await;
    let (claims, person, id_token) = match done {
        Ok(done) => done,
        Err(e) => return Err(failed(page, &id, e).await),
    };
    let who = UpstreamIdentity {
        upstream: id.clone(),
        issuer: claims.iss.clone(),
        subject: claims.sub.clone(),
    };
    let logout = started
        .discovery
        .end_session_endpoint
        .map(|end_session_endpoint| UpstreamLogout {
            end_session_endpoint,
            id_token_hint: id_token,
        });
    let login = AgentLogin {
        who,
        acr: claims.acr.clone(),
        amr: claims.amr.clone(),
        logout,
        authreq: started.authreq,
        retour: started.retour,
    };
    // The address must be verified and of an allowed domain, at a linked login too: an agent
    // whose domain is no longer allowed is no agent any more (docs/accounts.md). With no domain
    // listed, the upstream alone says who its linked agents are.
    let email = person
        .email
        .as_deref()
        .filter(|_| person.email_verified != Some(false))
        .and_then(|e| Email::parse(e).ok())
        .filter(|e| upstream_links::domain_allowed(&upstream.allowed_domains, e));
    let linked = upstream_links::user_of(&page.db, &claims.iss, &claims.sub).await?;
    if let Some(user) = &linked
        && (email.is_some() || upstream.allowed_domains.is_empty())
    {
        return login
            .finish(page, &UserId::from_stored(user.id.clone()))
            .await;
    }
    let Some(email) = email.filter(|_| linked.is_none()) else {
        return Err(failed(page, &id, UpstreamError::DomainNotAllowed).await);
    };
    if let Some(existing) = store::user_by_email(&page.db, &email).await? {
        return ask_password(page, &login, &existing, &upstream.label).await;
    }
    let new = NewUser {
        given_name: person.given_name.unwrap_or_default(),
        family_name: person.family_name.unwrap_or_default(),
        ..NewUser::default()
    };
    let now = page.clock.now();
    match agent_login::create_agent(&page.db, now, &login.who, &email, &new).await {
        Ok(user) => login.finish_logged(page, &user).await,
        Err(AccountRefusal::EmailTaken | AccountRefusal::AlreadyLinked) => Err(login_expired()),
        Err(refusal) => Err(refusal.into()),
    }
}

/// An agent authenticated upstream, on the way to a session.
#[derive(Clone, Serialize, Deserialize)]
struct AgentLogin {
    who: UpstreamIdentity,
    acr: Option<String>,
    amr: Vec<String>,
    /// How to log out at the upstream, when it can.
    #[serde(default)]
    logout: Option<UpstreamLogout>,
    authreq: String,
    retour: String,
}

impl AgentLogin {
    /// Through an existing link: the login event, then the session.
    async fn finish(&self, page: &Page, user: &UserId) -> Result<Response, PageError> {
        let now = page.clock.now();
        agent_login::agent_logged_in(
            &page.db,
            now,
            &self.who,
            user,
            self.acr.as_deref(),
            &self.amr,
        )
        .await?;
        self.finish_logged(page, user).await
    }

    /// The session (after the CGU if they are due): `amr` the upstream's own (RFC 8176 values
    /// we know), `pwd` if it said nothing.
    async fn finish_logged(&self, page: &Page, user: &UserId) -> Result<Response, PageError> {
        const KNOWN: [&str; 8] = ["pwd", "otp", "hwk", "swk", "pin", "mfa", "sc", "pop"];
        let mut amr: Vec<String> = self
            .amr
            .iter()
            .filter(|m| KNOWN.contains(&m.as_str()))
            .cloned()
            .collect();
        if amr.is_empty() {
            amr.push("pwd".into());
        }
        let upstream = Some(ViaUpstream {
            id: self.who.upstream.clone(),
            logout: self.logout.clone(),
        });
        super::login::finish_via(
            page,
            user.as_str(),
            amr,
            upstream,
            &self.authreq,
            &self.retour,
        )
        .await
    }
}

fn link_key(step: &str) -> String {
    format!("upstream-link:{}", secrets::hash(step))
}

#[derive(Serialize, Deserialize)]
struct Linking {
    login: AgentLogin,
    user_id: String,
    email: String,
    label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "upstream_link.html")]
struct LinkPage {
    csrf: String,
    step: String,
    email: String,
    label: String,
    error: Option<String>,
}

/// The upstream's agent has the address of an existing account: its password is asked first.
async fn ask_password(
    page: &Page,
    login: &AgentLogin,
    existing: &store::User,
    label: &str,
) -> Result<Response, PageError> {
    let step = secrets::random_token(32);
    let linking = Linking {
        login: login.clone(),
        user_id: existing.id.clone(),
        email: existing.email.clone(),
        label: label.to_owned(),
    };
    let raw = serde_json::to_string(&linking).map_err(|e| PageError::internal("upstream", &e))?;
    let ttl = Duration::from_secs(page.config.agents.login_ttl_seconds);
    page.ephemeral.put(&link_key(&step), &raw, ttl).await?;
    Ok(Redirect::to(&format!("{LINK_PATH}?step={step}")).into_response())
}

/// Query of the link page.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LinkQuery {
    step: String,
}

/// `GET /connexion/agent/rattacher`: the password of the account to link.
pub async fn link_get(page: Page, Query(q): Query<LinkQuery>) -> Result<Response, PageError> {
    let (_, linking) = super::login_end::waiting_step::<Linking>(&page, &q.step, link_key).await?;
    page.render(StatusCode::OK, |csrf| LinkPage {
        csrf,
        step: q.step.clone(),
        email: linking.email.clone(),
        label: linking.label.clone(),
        error: None,
    })
}

/// Fields of the link form.
#[derive(Deserialize)]
pub struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    step: String,
    #[serde(default)]
    password: String,
}

crate::with_csrf!(LinkForm);

/// `POST /connexion/agent/rattacher`: the right password links the account, then logs in.
pub async fn link_submit(
    page: Page,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<LinkForm>,
) -> Result<Response, PageError> {
    let (key, linking) =
        super::login_end::waiting_step::<Linking>(&page, &form.step, link_key).await?;
    limit(&page, &ip).await?;
    let guard = super::guard::Guard::new(&page, "login", &linking.email, &ip);
    guard.check().await?;
    let user = store::user_by_id(&page.db, &linking.user_id).await?;
    let phc = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let valid = page.hasher.verify(&form.password, phc).await?;
    if valid {
        guard.succeeded().await?;
    } else {
        guard.failed().await?;
    }
    let Some(user) = user.filter(|_| valid) else {
        let error = Some("Mot de passe incorrect.".to_owned());
        return page.render(StatusCode::UNAUTHORIZED, |csrf| LinkPage {
            csrf,
            step: form.step.clone(),
            email: linking.email.clone(),
            label: linking.label.clone(),
            error,
        });
    };
    // Spent: the same form cannot link twice.
    if page.ephemeral.take(&key).await?.is_none() {
        return Err(super::login_end::expired());
    }
    let user_id = UserId::from_stored(user.id);
    let now = page.clock.now();
    agent_login::link_agent(&page.db, now, &linking.login.who, &user_id).await?;
    linking.login.finish_logged(&page, &user_id).await
}
