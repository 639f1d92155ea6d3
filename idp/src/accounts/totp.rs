//! Second factor: TOTP (RFC 6238) with single-use recovery codes. Owns the enrolment page
//! (`/compte/double-authentification`), its disabling, and the login's second step
//! (`/connexion/code`). Secrets are stored sealed under the KEK with the user id as associated
//! data (a row cannot be moved to another account); recovery codes are stored as SHA-256
//! hashes (they are random and high-entropy); the last accepted time step is kept per account
//! so a code is accepted once.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    Form,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use totp_rs::{Builder, Totp};

use super::{
    UserId,
    actions::{
        enrol_totp::{Enrolment, enrol_totp},
        remove_totp::remove_totp,
    },
    session::LoginSession,
    store as users,
};
use crate::{
    AppState,
    error::PageError,
    oidc::pending::PendingAuthorization,
    secrets,
    store::{Db, now},
    web::{csrf, rate_limit},
};

/// How long a "password checked, code expected" login state lives.
const SECOND_STEP_TTL: Duration = Duration::from_secs(5 * 60);
/// How long a secret shown for enrolment waits for its confirming code.
const ENROLMENT_TTL: Duration = Duration::from_secs(10 * 60);
/// Number of recovery codes given at enrolment.
const RECOVERY_CODES: usize = 10;
/// Issuer shown in authenticator apps.
const ISSUER: &str = "EFP Connect";

// ---------------------------------------------------------------------------------------------
// Storage.

/// Whether the account has a second factor.
pub async fn is_enrolled(db: &Db, user_id: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT user_id FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?
            .is_some(),
    )
}

/// The sealed secret of an account.
async fn sealed_secret(db: &Db, user_id: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query("SELECT secret FROM user_totp WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?
        .map(|r| r.try_get::<Vec<u8>, _>("secret"))
        .transpose()
}

/// Records `step` as accepted if it is later than the last accepted one; `false` is a replay.
/// One conditional UPDATE, so two nodes cannot both accept the same code.
async fn accept_step(db: &Db, user_id: &str, step: i64) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE user_totp SET last_step = $1 WHERE user_id = $2 AND last_step < $1")
            .bind(step)
            .bind(user_id)
            .execute(&db.pool)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Consumes a recovery code; `false` when it is not (or no longer) one of the account's.
async fn use_recovery_code(db: &Db, user_id: &str, code: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM totp_recovery_codes WHERE user_id = $1 AND code_hash = $2")
        .bind(user_id)
        .bind(secrets::hash(code))
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---------------------------------------------------------------------------------------------
// Codes.

fn totp_for(secret: Vec<u8>, account: &str) -> Result<Totp, PageError> {
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| PageError::internal("totp", &e))
}

/// The time step a 6-digit `code` matches (one step of clock drift either way), if any.
fn matching_step(totp: &Totp, code: &str) -> Option<i64> {
    let t = u64::try_from(now()).ok()?;
    totp.check(code, t).and_then(|s| i64::try_from(s).ok())
}

/// A code as typed: spaces removed.
fn normalise(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

fn is_totp_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Checks a TOTP code or a recovery code for an enrolled account, consuming it.
pub(crate) async fn verify_second_factor(
    state: &AppState,
    user_id: &str,
    account: &str,
    code: &str,
) -> Result<bool, PageError> {
    let code = normalise(code);
    if is_totp_code(&code) {
        let Some(sealed) = sealed_secret(&state.db, user_id).await? else {
            return Ok(false);
        };
        let secret = state
            .kek
            .open(user_id, &sealed)
            .map_err(|e| PageError::internal("totp secret", &e))?;
        let totp = totp_for(secret, account)?;
        return match matching_step(&totp, &code) {
            Some(step) => Ok(accept_step(&state.db, user_id, step).await?),
            None => Ok(false),
        };
    }
    if code.is_empty() || code.len() > 64 {
        return Ok(false);
    }
    Ok(use_recovery_code(&state.db, user_id, &code).await?)
}

// ---------------------------------------------------------------------------------------------
// Login, second step.

/// What is remembered between the password and the code.
#[derive(Serialize, Deserialize)]
struct SecondStep {
    user_id: String,
    authreq: String,
    /// A local page to go back to when no client is waiting (`retour` of the login).
    #[serde(default)]
    retour: String,
}

fn second_step_key(token: &str) -> String {
    format!("login-totp:{}", secrets::hash(token))
}

#[derive(Template, WebTemplate)]
#[template(path = "totp_login.html")]
struct CodePage {
    csrf: String,
    step: String,
    authreq: String,
    error: Option<String>,
}

fn render<T: IntoResponse>(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    build: impl FnOnce(String) -> T,
) -> Response {
    let token = csrf::token(headers, state.config.session.secure_cookies);
    let mut response = (status, build(token.value)).into_response();
    if let Some(cookie) = token.set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// Called by the login once the password is right for an account with a second factor:
/// remembers that for a few minutes and shows the code page. No session yet.
pub async fn ask_code(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    authreq: &str,
) -> Result<Response, PageError> {
    ask_code_then(state, headers, user_id, authreq, "").await
}

/// [`ask_code`], coming back to the local page `retour` (already checked by the login) when
/// no authorization request is waiting.
pub async fn ask_code_then(
    state: &AppState,
    headers: &HeaderMap,
    user_id: &str,
    authreq: &str,
    retour: &str,
) -> Result<Response, PageError> {
    let token = secrets::random_token(32);
    let value = serde_json::to_string(&SecondStep {
        user_id: user_id.to_owned(),
        authreq: authreq.to_owned(),
        retour: retour.to_owned(),
    })
    .expect("second step serialises");
    state
        .ephemeral
        .put(&second_step_key(&token), &value, SECOND_STEP_TTL)
        .await?;
    Ok(render(state, headers, StatusCode::OK, |csrf| CodePage {
        csrf,
        step: token,
        authreq: authreq.to_owned(),
        error: None,
    }))
}

/// Fields of the code form.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    step: String,
    #[serde(default)]
    code: String,
}

/// `POST /connexion/code`: the second factor; right → the session starts (acr `mfa`).
pub async fn submit_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    if !csrf::verify(&headers, &form.csrf, state.config.session.secure_cookies) {
        return Err(PageError::form_expired());
    }
    let expired = || {
        PageError::bad_request(
            "Votre connexion a expiré. Veuillez saisir à nouveau votre identifiant et votre mot de passe.",
        )
    };
    if form.step.is_empty() || form.step.len() > 64 {
        return Err(expired());
    }
    let key = second_step_key(&form.step);
    let Some(raw) = state.ephemeral.get(&key).await? else {
        return Err(expired());
    };
    let step: SecondStep = serde_json::from_str(&raw).map_err(|_| expired())?;
    let Some(user) = users::user_by_id(&state.db, &step.user_id).await? else {
        return Err(expired());
    };
    let limits = &state.config.limits;
    rate_limit::hit(
        &state.ephemeral,
        "login-totp",
        &user.id,
        limits.login_per_account,
        Duration::from_secs(limits.login_window_seconds),
    )
    .await??;
    if !verify_second_factor(&state, &user.id, &user.email, &form.code).await? {
        tracing::info!(
            login.outcome = "failure",
            login.step = "totp",
            "second factor refused"
        );
        return Ok(render(&state, &headers, StatusCode::UNAUTHORIZED, |csrf| {
            CodePage {
                csrf,
                step: form.step.clone(),
                authreq: step.authreq.clone(),
                error: Some("Code de vérification incorrect.".into()),
            }
        }));
    }
    // Taken only now: a wrong code may be retried (within the rate limit), a right one once.
    if state.ephemeral.take(&key).await?.is_none() {
        return Err(expired());
    }
    let amr = ["pwd", "otp", "mfa"].map(String::from).to_vec();
    let (session, cookie) = LoginSession::start(&state, &headers, &user.id, amr).await?;
    tracing::info!(login.outcome = "success", user.id = %user.id, login.step = "totp", "login");
    let mut target = continue_target(&state, &step.authreq, &session.sid).await?;
    if target == "/"
        && let Some(retour) = crate::web::page::safe_return(&step.retour)
    {
        target = retour.to_owned();
    }
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Where a login goes next: back to its authorization request, or home.
async fn continue_target(state: &AppState, authreq: &str, sid: &str) -> Result<String, PageError> {
    Ok(match PendingAuthorization::load(state, authreq).await? {
        Some(pending) => {
            pending.logged_in(state, authreq, sid).await?;
            format!("/authorize/continue?authreq={authreq}")
        }
        None => "/".to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Enrolment and disabling.

/// Where a login that needs `mfa` but has no second factor resumes after enrolment.
fn return_key(sid: &str) -> String {
    format!("totp-return:{}", secrets::hash(sid))
}

/// Called by the login when the request asks for `acr_values=mfa` and the account has no
/// second factor: the session (password only) is kept, the request is resumed after enrolment.
pub async fn remember_return(state: &AppState, sid: &str, authreq: &str) -> Result<(), PageError> {
    state
        .ephemeral
        .put(&return_key(sid), authreq, ENROLMENT_TTL)
        .await?;
    Ok(())
}

fn enrolment_key(sid: &str) -> String {
    format!("totp-enrol:{}", secrets::hash(sid))
}

#[derive(Template, WebTemplate)]
#[template(path = "totp_enrol.html")]
struct EnrolPage {
    csrf: String,
    enrolled: bool,
    qr: String,
    secret: String,
    recovery_codes: Vec<String>,
    continue_to: String,
    error: Option<String>,
}

impl EnrolPage {
    fn new(csrf: String) -> Self {
        Self {
            csrf,
            enrolled: false,
            qr: String::new(),
            secret: String::new(),
            recovery_codes: Vec::new(),
            continue_to: "/".into(),
            error: None,
        }
    }
}

/// The logged-in person, or the login page.
/// The logged-in session of this browser and its account, if both still exist.
async fn logged_in_user(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(LoginSession, users::User)>, PageError> {
    let Some(session) = LoginSession::from_headers(state, headers).await? else {
        return Ok(None);
    };
    Ok(users::user_by_id(&state.db, &session.user_id)
        .await?
        .map(|user| (session, user)))
}

/// A new secret for this session's enrolment (kept sealed in the shared store until the
/// confirming code), and the page showing it.
async fn new_enrolment(
    state: &AppState,
    headers: &HeaderMap,
    session: &LoginSession,
    account: &str,
    error: Option<String>,
) -> Result<Response, PageError> {
    let totp = Builder::new()
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| PageError::internal("totp", &e))?;
    let sealed = state.kek.seal(&session.user_id, totp.secret());
    state
        .ephemeral
        .put(
            &enrolment_key(&session.sid),
            &STANDARD.encode(sealed),
            ENROLMENT_TTL,
        )
        .await?;
    let qr = totp
        .to_qr_base64()
        .map_err(|e| PageError::internal("totp qr", &e))?;
    let secret = totp.secret().to_base32();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render(state, headers, status, |csrf| EnrolPage {
        qr,
        secret,
        error,
        ..EnrolPage::new(csrf)
    }))
}

/// `GET /compte/double-authentification`: the status, or a new secret to enrol.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some((session, user)) = logged_in_user(&state, &headers).await? else {
        return Ok(Redirect::to("/connexion").into_response());
    };
    if is_enrolled(&state.db, &user.id).await? {
        return Ok(render(&state, &headers, StatusCode::OK, |csrf| EnrolPage {
            enrolled: true,
            ..EnrolPage::new(csrf)
        }));
    }
    new_enrolment(&state, &headers, &session, &user.email, None).await
}

/// Fields of the enrolment form.
#[derive(Deserialize)]
pub struct EnrolForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// `POST /compte/double-authentification`: the code confirming the app; stores the secret and
/// shows the recovery codes once.
pub async fn enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<EnrolForm>,
) -> Result<Response, PageError> {
    if !csrf::verify(&headers, &form.csrf, state.config.session.secure_cookies) {
        return Err(PageError::form_expired());
    }
    let Some((session, user)) = logged_in_user(&state, &headers).await? else {
        return Ok(Redirect::to("/connexion").into_response());
    };
    if is_enrolled(&state.db, &user.id).await? {
        return Err(PageError::bad_request(
            "La double authentification est déjà activée sur ce compte.",
        ));
    }
    let limits = &state.config.limits;
    rate_limit::hit(
        &state.ephemeral,
        "totp-enrol",
        &user.id,
        limits.login_per_account,
        Duration::from_secs(limits.login_window_seconds),
    )
    .await??;
    let key = enrolment_key(&session.sid);
    let sealed = match state.ephemeral.get(&key).await? {
        Some(encoded) => STANDARD.decode(encoded).ok(),
        None => None,
    };
    let Some(secret) = sealed.and_then(|s| state.kek.open(&user.id, &s).ok()) else {
        return new_enrolment(
            &state,
            &headers,
            &session,
            &user.email,
            Some("Le délai est dépassé : scannez ce nouveau QR code.".into()),
        )
        .await;
    };
    let totp = totp_for(secret, &user.email)?;
    let code = normalise(&form.code);
    let step = is_totp_code(&code)
        .then(|| matching_step(&totp, &code))
        .flatten();
    let Some(step) = step else {
        // Same secret again, so the app already set up keeps working.
        let qr = totp
            .to_qr_base64()
            .map_err(|e| PageError::internal("totp qr", &e))?;
        let secret = totp.secret().to_base32();
        return Ok(render(&state, &headers, StatusCode::BAD_REQUEST, |csrf| {
            EnrolPage {
                qr,
                secret,
                error: Some("Code de vérification incorrect. Saisissez le code à 6 chiffres affiché par votre application.".into()),
                ..EnrolPage::new(csrf)
            }
        }));
    };
    if state.ephemeral.take(&key).await?.is_none() {
        return Err(PageError::bad_request(
            "Cette activation a déjà été confirmée.",
        ));
    }
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| secrets::random_token(12))
        .collect();
    let hashes: Vec<String> = codes.iter().map(|c| secrets::hash(c)).collect();
    let sealed = state.kek.seal(&user.id, totp.secret());
    let enrolment = Enrolment {
        sealed: &sealed,
        accepted_step: step,
        code_hashes: &hashes,
    };
    let id = UserId::from_stored(user.id.clone());
    enrol_totp(&state.db, state.clock.now(), &id, &enrolment).await?;
    tracing::info!(user.id = %user.id, "second factor enrolled");

    // A login that asked for `mfa` resumes with a session that now has it.
    let mut cookie = None;
    let mut continue_to = "/".to_owned();
    if let Some(authreq) = state.ephemeral.take(&return_key(&session.sid)).await? {
        let amr = ["pwd", "otp", "mfa"].map(String::from).to_vec();
        let (new_session, set_cookie) =
            LoginSession::start(&state, &headers, &user.id, amr).await?;
        continue_to = continue_target(&state, &authreq, &new_session.sid).await?;
        cookie = Some(set_cookie);
    }
    let mut response = render(&state, &headers, StatusCode::OK, |csrf| EnrolPage {
        enrolled: true,
        recovery_codes: codes,
        continue_to,
        ..EnrolPage::new(csrf)
    });
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Fields of the disabling form.
#[derive(Deserialize)]
pub struct DisableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

/// `POST /compte/double-authentification/desactivation`: removes the second factor after the
/// password is typed again.
pub async fn disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<DisableForm>,
) -> Result<Response, PageError> {
    if !csrf::verify(&headers, &form.csrf, state.config.session.secure_cookies) {
        return Err(PageError::form_expired());
    }
    let Some((_, user)) = logged_in_user(&state, &headers).await? else {
        return Ok(Redirect::to("/connexion").into_response());
    };
    let limits = &state.config.limits;
    rate_limit::hit(
        &state.ephemeral,
        "login-account",
        &user.email,
        limits.login_per_account,
        Duration::from_secs(limits.login_window_seconds),
    )
    .await??;
    let valid = !form.password.is_empty()
        && state
            .hasher
            .verify(&form.password, user.password_hash.as_deref())
            .await?;
    if !valid {
        return Ok(render(&state, &headers, StatusCode::UNAUTHORIZED, |csrf| {
            EnrolPage {
                enrolled: true,
                error: Some("Mot de passe incorrect.".into()),
                ..EnrolPage::new(csrf)
            }
        }));
    }
    let id = UserId::from_stored(user.id.clone());
    remove_totp(&state.db, state.clock.now(), &id).await?;
    tracing::info!(user.id = %user.id, "second factor disabled");
    Ok(Redirect::to("/compte/double-authentification").into_response())
}
