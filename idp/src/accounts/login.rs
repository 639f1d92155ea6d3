//! The login page: e-mail and password, in the DSFR look. The full journey (anti-robot check,
//! second factor) will extend this page, not replace its plumbing.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::{extract::Query, http::HeaderMap, response::Response};
use serde::Deserialize;

use super::{
    Email, UserId,
    actions::{
        record_login::{LoginContext, login_refused},
        rehash_password::rehash_password,
    },
    guard::Guard,
    login_end, password, store,
};
use crate::{
    AppState,
    action::Refusal,
    error::PageError,
    oidc::pending::PendingAuthorization,
    web::{
        anti_robot,
        client_ip::ClientIp,
        page::{CsrfForm, Page, safe_return},
        rate_limit, security_headers,
    },
};
pub(crate) use login_end::{expired, waiting_step};

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    authreq: String,
    /// Local page to go back to after a login that no client asked for (`retour`).
    retour: String,
    email: String,
    error: Option<String>,
    /// The error concerns the e-mail field (marked invalid, described by the error).
    email_invalid: bool,
    /// The error concerns the password field.
    password_invalid: bool,
    client_name: Option<String>,
    /// « AGENT DU MINISTÈRE »: `(label, path)` per configured upstream provider.
    agents: Vec<(String, String)>,
    /// The anti-robot check.
    robot: anti_robot::AntiRobot,
    /// « Se connecter avec une clé d'accès » (accounts/passkeys) is offered.
    passkeys: bool,
}

/// Query of `GET /connexion`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginQuery {
    /// The pending authorization request that sent the person here.
    pub authreq: String,
    /// A local page that sent the person here (`/compte`…), to go back to after the login.
    pub retour: String,
}

/// `GET /connexion`: the login form.
pub async fn show(page: Page, Query(q): Query<LoginQuery>) -> Result<Response, PageError> {
    let pending = PendingAuthorization::load(&page, &q.authreq).await?;
    let email = pending
        .as_ref()
        .and_then(|p| p.request.login_hint.clone())
        .unwrap_or_default();
    let returns_to = pending.as_ref().map(|p| p.request.redirect_uri.clone());
    let client_name = pending.map(|p| p.client_name);
    let mut response = login_page(
        &page,
        LoginPage {
            csrf: String::new(),
            authreq: q.authreq,
            retour: safe_return(&q.retour).unwrap_or_default().to_owned(),
            email,
            error: None,
            email_invalid: false,
            password_invalid: false,
            client_name,
            agents: Vec::new(),
            robot: Default::default(),
            passkeys: false,
        },
        axum::http::StatusCode::OK,
    )?;
    // Opened from a link (the sign-up's e-mail) in a browser that never saw `/authorize`: the
    // login still ends at the client.
    if let Some(uri) = returns_to {
        security_headers::remember_return(&mut response, &uri, page.config.session.secure_cookies);
    }
    Ok(response)
}

/// The login page, with a fresh anti-robot check (marked failed after an error).
fn login_page(
    page: &Page,
    view: LoginPage,
    status: axum::http::StatusCode,
) -> Result<Response, PageError> {
    let robot = anti_robot::issue(page).failed_if(view.error.as_deref(), "login-error");
    let agents = agent_buttons(page, &view.authreq, &view.retour);
    let passkeys = super::passkeys::available(&page.config);
    page.render(status, |csrf| LoginPage {
        csrf,
        robot,
        agents,
        passkeys,
        ..view
    })
}

/// « AGENT DU MINISTÈRE »: `(label, path)` per configured upstream provider (its login starts
/// at `/connexion/agent/<id>`, accounts/upstream), with the waiting request and `retour`.
fn agent_buttons(state: &AppState, authreq: &str, retour: &str) -> Vec<(String, String)> {
    let upstreams = &state.config.agents.upstreams;
    upstreams
        .iter()
        .map(|u| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            if !authreq.is_empty() {
                query.append_pair("authreq", authreq);
            }
            if !retour.is_empty() {
                query.append_pair("retour", retour);
            }
            let query = query.finish();
            let path = if query.is_empty() {
                format!("/connexion/agent/{}", u.id)
            } else {
                format!("/connexion/agent/{}?{query}", u.id)
            };
            let label = if upstreams.len() == 1 {
                "AGENT DU MINISTÈRE".to_owned()
            } else {
                format!("AGENT DU MINISTÈRE ({})", u.label)
            };
            (label, path)
        })
        .collect()
}

/// Fields of the login form.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    authreq: String,
    #[serde(default)]
    retour: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(flatten)]
    robot: anti_robot::Fields,
}

/// The one message for every wrong e-mail or password: it must not tell which was wrong.
const BAD_CREDENTIALS: &str = "Identifiant ou mot de passe incorrect.";

/// Why the form is shown again: the message, which fields it concerns, the status.
struct Again {
    error: String,
    email_invalid: bool,
    password_invalid: bool,
    status: axum::http::StatusCode,
}

impl Again {
    fn new(error: impl Into<String>, email: bool, password: bool) -> Self {
        Self {
            error: error.into(),
            email_invalid: email,
            password_invalid: password,
            status: axum::http::StatusCode::BAD_REQUEST,
        }
    }
}

/// The account whose e-mail and password the form holds, after the anti-robot check and the
/// login limits (per client address, and per account and address: [`Guard`]); or why the form
/// is shown again.
async fn check_credentials(
    state: &AppState,
    headers: &HeaderMap,
    ip: &ClientIp,
    form: &LoginForm,
) -> Result<Result<store::User, Again>, PageError> {
    // Before anything is checked or counted.
    if !anti_robot::verify(state, &form.robot).await? {
        return Ok(Err(Again::new(anti_robot::FAILED, false, false)));
    }
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => return Ok(Err(Again::new(e.to_string(), true, false))),
    };
    if form.password.is_empty() {
        let message = "Veuillez saisir votre mot de passe.";
        return Ok(Err(Again::new(message, false, true)));
    }
    let limits = &state.config.limits;
    let window = Duration::from_secs(limits.login_window_seconds);
    rate_limit::hit(
        &state.ephemeral,
        "login-ip",
        &ip.key(),
        limits.login_per_ip,
        window,
    )
    .await??;
    // Keyed by the typed address, whether or not it names an account (no enumeration).
    let guard = Guard::new(state, "login", email.as_str(), ip);
    guard.check().await?;

    let user = store::user_by_email(&state.db, &email).await?;
    // Unknown accounts and accounts without a password verify against a dummy hash, so the
    // answer takes as long as for a real one.
    let phc = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let valid = state.hasher.verify(&form.password, phc).await?;
    // For the audit trail of a refusal: the client the login was for, where it came from.
    let context = async || LoginContext {
        client_id: PendingAuthorization::load(state, &form.authreq)
            .await
            .ok()
            .flatten()
            .map(|p| p.request.client_id),
        ip: ip.0,
        user_agent: super::session::user_agent(headers),
    };
    let known = user.as_ref().map(|u| UserId::from_stored(u.id.clone()));
    let Some(user) = user.filter(|_| valid) else {
        guard.failed().await?;
        let now = state.clock.now();
        let context = context().await;
        login_refused(
            &state.db,
            now,
            known.as_ref(),
            "bad_credentials",
            "pwd",
            &context,
        )
        .await?;
        tracing::info!(login.outcome = "failure", "login refused");
        crate::metrics::login("failure");
        let mut again = Again::new(BAD_CREDENTIALS, true, true);
        again.status = axum::http::StatusCode::UNAUTHORIZED;
        return Ok(Err(again));
    };
    guard.succeeded().await?;
    // An imported account's hash (or one of older parameters) becomes today's argon2id.
    if let Some(old) = user
        .password_hash
        .as_deref()
        .filter(|h| password::needs_rehash(h))
    {
        let scheme = password::HashScheme::of(old).map_or("unknown", password::HashScheme::name);
        let clear = super::Password::from_verified(&form.password);
        let new = state.hasher.hash(&clear).await?;
        let id = UserId::from_stored(user.id.clone());
        let now = state.clock.now();
        rehash_password(&state.db, now, &id, old, &new, scheme).await?;
    }
    // Told only to whoever knows the password: no enumeration.
    if let Err(refusal) = user.standing.may_log_in() {
        let id = UserId::from_stored(user.id.clone());
        let now = state.clock.now();
        let context = context().await;
        login_refused(&state.db, now, Some(&id), refusal.code(), "pwd", &context).await?;
        return Err(refusal.into());
    }
    Ok(Ok(user))
}

/// `POST /connexion`: checks the credentials and starts a session.
pub async fn submit(
    page: Page,
    ip: ClientIp,
    CsrfForm(form): CsrfForm<LoginForm>,
) -> Result<Response, PageError> {
    // Under a flood, the attempts the hasher cannot take are shed before they cost a store or
    // database round trip: what is left of the cores goes to the hashes (docs/performance.md).
    if page.hasher.is_saturated() {
        return Err(crate::accounts::password::Overloaded.into());
    }
    let user = match check_credentials(&page, page.headers(), &ip, &form).await? {
        Ok(user) => user,
        Err(again) => {
            let pending = PendingAuthorization::load(&page, &form.authreq).await?;
            let view = LoginPage {
                csrf: String::new(),
                authreq: form.authreq.clone(),
                retour: safe_return(&form.retour).unwrap_or_default().to_owned(),
                email: form.email.clone(),
                error: Some(again.error),
                email_invalid: again.email_invalid,
                password_invalid: again.password_invalid,
                client_name: pending.map(|p| p.client_name),
                agents: Vec::new(),
                robot: Default::default(),
                passkeys: false,
            };
            return login_page(&page, view, again.status);
        }
    };
    // Second factor: the password alone starts no session (accounts/totp).
    if super::totp::has_second_factor(&page, &user.id).await? {
        let retour = safe_return(&form.retour).unwrap_or_default();
        return super::totp::ask_code_then(&page, &user.id, &form.authreq, retour).await;
    }
    let retour = safe_return(&form.retour).unwrap_or_default();
    // A browser the account has not confirmed: its e-mailed code first (accounts/browsers).
    if super::browsers::needs_code(&page, page.headers(), &user.id).await? {
        return super::browsers::ask(&page, &user.id, &form.authreq, retour).await;
    }
    tracing::info!(login.outcome = "success", user.id = %user.id, "login");
    crate::metrics::login("success");
    finish(&page, &user.id, vec!["pwd".into()], &form.authreq, retour).await
}

/// The person is authenticated (`amr`: how): once EFP Connect's current CGU are accepted
/// (otherwise they are asked first, and no session starts before), the session starts
/// ([`login_end::start_session_via`]).
pub(crate) async fn finish(
    page: &Page,
    user_id: &str,
    amr: Vec<String>,
    authreq: &str,
    retour: &str,
) -> Result<Response, PageError> {
    finish_via(page, user_id, amr, None, authreq, retour).await
}

/// [`finish`], for a login through the upstream provider `upstream` (if any).
pub(crate) async fn finish_via(
    page: &Page,
    user_id: &str,
    amr: Vec<String>,
    upstream: Option<super::session::ViaUpstream>,
    authreq: &str,
    retour: &str,
) -> Result<Response, PageError> {
    login_end::may_log_in(page, &UserId::from_stored(user_id)).await?;
    if let Some(cgu) = super::cgu::to_accept(&page.db, user_id).await? {
        let how = (amr, upstream);
        return super::cgu::pages::ask(page, user_id, how, authreq, retour, &cgu).await;
    }
    login_end::start_session_via(page, user_id, amr, upstream, authreq, retour).await
}

crate::with_csrf!(LoginForm);
