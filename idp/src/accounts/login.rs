//! The login page: e-mail and password, in the DSFR look. The full journey (anti-robot check,
//! second factor) will extend this page, not replace its plumbing.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

use super::{Email, session::LoginSession, store};
use crate::{
    AppState,
    error::PageError,
    oidc::authorize::PendingAuthorization,
    web::{anti_robot, client_ip::ClientIp, csrf, rate_limit},
};

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
    /// The anti-robot check.
    robot: anti_robot::AntiRobot,
}

/// Query of `GET /connexion`.
#[derive(Deserialize)]
pub struct LoginQuery {
    /// The pending authorization request that sent the person here.
    #[serde(default)]
    pub authreq: String,
    /// A local page that sent the person here (`/compte`…), to go back to after the login.
    #[serde(default)]
    pub retour: String,
}

/// `GET /connexion`: the login form.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let pending = PendingAuthorization::load(&state, &q.authreq).await?;
    let email = pending
        .as_ref()
        .and_then(|p| p.request.login_hint.clone())
        .unwrap_or_default();
    let client_name = pending.map(|p| p.client_name);
    render(
        &state,
        &headers,
        LoginPage {
            csrf: String::new(),
            authreq: q.authreq,
            retour: super::account::safe_return(&q.retour)
                .unwrap_or_default()
                .to_owned(),
            email,
            error: None,
            email_invalid: false,
            password_invalid: false,
            client_name,
            robot: Default::default(),
        },
        axum::http::StatusCode::OK,
    )
}

fn render(
    state: &AppState,
    headers: &HeaderMap,
    mut page: LoginPage,
    status: axum::http::StatusCode,
) -> Result<Response, PageError> {
    let token = csrf::token(headers, state.config.session.secure_cookies);
    page.csrf = token.value;
    page.robot = anti_robot::issue(state).failed_if(page.error.as_deref(), "login-error");
    let mut response = (status, page).into_response();
    if let Some(cookie) = token.set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
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

/// `POST /connexion`: checks the credentials and starts a session.
pub async fn submit(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let secure = state.config.session.secure_cookies;
    if !csrf::verify(&headers, &form.csrf, secure) {
        return Err(PageError::form_expired());
    }
    // Under a flood, the attempts the hasher cannot take are shed before they cost a store or
    // database round trip: what is left of the cores goes to the hashes (docs/performance.md).
    if state.hasher.is_saturated() {
        return Err(crate::accounts::password::Overloaded.into());
    }
    let pending = PendingAuthorization::load(&state, &form.authreq).await?;
    let client_name = pending.as_ref().map(|p| p.client_name.clone());
    let again = |error: String, email_invalid: bool, password_invalid: bool| LoginPage {
        csrf: String::new(),
        authreq: form.authreq.clone(),
        retour: super::account::safe_return(&form.retour)
            .unwrap_or_default()
            .to_owned(),
        email: form.email.clone(),
        error: Some(error),
        email_invalid,
        password_invalid,
        client_name: client_name.clone(),
        robot: Default::default(),
    };
    // Before anything is checked or counted.
    if !anti_robot::verify(&state, &form.robot).await? {
        return render(
            &state,
            &headers,
            again(anti_robot::FAILED.into(), false, false),
            axum::http::StatusCode::BAD_REQUEST,
        );
    }
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => {
            return render(
                &state,
                &headers,
                again(e.to_string(), true, false),
                axum::http::StatusCode::BAD_REQUEST,
            );
        }
    };
    if form.password.is_empty() {
        return render(
            &state,
            &headers,
            again("Veuillez saisir votre mot de passe.".into(), false, true),
            axum::http::StatusCode::BAD_REQUEST,
        );
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
    rate_limit::hit(
        &state.ephemeral,
        "login-account",
        email.as_str(),
        limits.login_per_account,
        window,
    )
    .await??;

    let user = store::user_by_email(&state.db, &email).await?;
    // Unknown accounts and accounts without a password verify against a dummy hash, so the
    // answer takes as long as for a real one.
    let phc = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let valid = state.hasher.verify(&form.password, phc).await?;
    let Some(user) = user.filter(|_| valid) else {
        tracing::info!(login.outcome = "failure", "login refused");
        crate::metrics::login("failure");
        return render(
            &state,
            &headers,
            again(BAD_CREDENTIALS.into(), true, true),
            axum::http::StatusCode::UNAUTHORIZED,
        );
    };
    // Second factor: the password alone starts no session (accounts/totp.rs).
    if super::totp::is_enrolled(&state.db, &user.id).await? {
        let retour = super::account::safe_return(&form.retour).unwrap_or_default();
        return super::totp::ask_code_then(&state, &headers, &user.id, &form.authreq, retour).await;
    }
    let (session, cookie) =
        LoginSession::start(&state, &headers, &user.id, vec!["pwd".into()]).await?;
    tracing::info!(login.outcome = "success", user.id = %user.id, "login");
    crate::metrics::login("success");
    let target = match pending {
        // The client accepts only `mfa` (not `pwd`) and the account has no second factor:
        // enrol first, then resume.
        Some(p) if p.request.requires_mfa() => {
            super::totp::remember_return(&state, &session.sid, &form.authreq).await?;
            "/compte/double-authentification".to_owned()
        }
        Some(pending) => {
            pending
                .logged_in(&state, &form.authreq, &session.sid)
                .await?;
            format!("/authorize/continue?authreq={}", form.authreq)
        }
        None => super::account::safe_return(&form.retour)
            .unwrap_or("/")
            .to_owned(),
    };
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    name: Option<String>,
}

/// `GET /`: who is logged in here.
pub async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let name = match LoginSession::from_headers(&state, &headers).await? {
        Some(session) => store::user_by_id(&state.db, &session.user_id)
            .await?
            .map(|u| {
                format!("{} {}", u.given_name, u.family_name)
                    .trim()
                    .to_owned()
            }),
        None => None,
    };
    Ok(HomePage { name }.into_response())
}
