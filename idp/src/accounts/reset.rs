//! The password reset journey, in three steps (guide `002` §5.2):
//!
//! 1. `/mot-de-passe-oublie`: the address. The answer is the same whether or not an account
//!    exists; when one does, a 6-digit code and a link token are e-mailed.
//! 2. `/mot-de-passe-oublie/code`: the code (or the e-mailed link
//!    `/mot-de-passe-oublie/lien?jeton=…`, which skips typing it).
//! 3. `/mot-de-passe-oublie/nouveau`: the new password; every session and token of the account
//!    ends with the old password.
//!
//! Everything lives in the shared store. Per address, one pending request
//! (`reset:req:<hash of address>`: the hashes of its code and link token), so a new request
//! replaces the previous code; per browser, the journey (`reset:flow:<hash of cookie token>`),
//! so going back or refreshing never loses or corrupts it. The request is `take`n when the
//! password changes: a code or link works once, across nodes.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use axum::{
    Form,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use super::{Email, Password, UserId, actions::reset_password::reset_password, session, store};
use crate::{
    AppState,
    error::PageError,
    mail::messages::{self, RESET_START_PATH},
    secrets,
    store::ephemeral::EphemeralError,
    web::{anti_robot, client_ip::ClientIp, cookies, csrf, rate_limit},
};

/// Step 2's page.
pub const RESET_CODE_PATH: &str = "/mot-de-passe-oublie/code";
/// Step 3's page.
pub const RESET_PASSWORD_PATH: &str = "/mot-de-passe-oublie/nouveau";
/// How much longer a browser's journey lives than its code.
const FLOW_EXTRA_LIFETIME: Duration = Duration::from_secs(3600);
/// Wrong codes allowed per request; the next one kills the code.
pub const MAX_CODE_TRIES: u64 = 5;

const CODE_INCORRECT: &str = "Le code saisi est incorrect.";
const CODE_EXPIRED: &str = "Ce code a expiré ou a déjà été utilisé. Demandez un nouveau code.";
const CODE_DEAD: &str = "Le code saisi est incorrect. Ce code n'est plus valable après 5 essais : demandez un nouveau code.";
const LINK_EXPIRED: &str = "Ce lien a expiré ou a déjà été utilisé. Demandez un nouveau code.";
/// A pending reset request of one address.
#[derive(Serialize, Deserialize)]
struct ResetRequest {
    /// Id of this request: salts the code hash, keys the tries counter.
    rid: String,
    /// `None` for an unknown address: the same work is done, but no code can succeed.
    user_id: Option<String>,
    code_hash: String,
    link_hash: String,
}

/// One browser's journey.
#[derive(Serialize, Deserialize)]
struct Flow {
    email: String,
    /// Set once the code (or link) was checked.
    verified: Option<Verified>,
}

#[derive(Serialize, Deserialize)]
struct Verified {
    user_id: String,
    rid: String,
    via: String,
}

fn request_key(email: &str) -> String {
    format!("reset:req:{}", secrets::hash(email))
}

fn link_key(token: &str) -> String {
    format!("reset:link:{}", secrets::hash(token))
}

fn flow_key(token: &str) -> String {
    format!("reset:flow:{}", secrets::hash(token))
}

fn code_hash(rid: &str, code: &str) -> String {
    secrets::hash(&format!("{rid}.{code}"))
}

fn ttl(state: &AppState) -> Duration {
    Duration::from_secs(state.config.accounts.reset_code_ttl_seconds)
}

/// Six random digits, uniformly drawn.
fn six_digits() -> String {
    let rng = SystemRandom::new();
    loop {
        let mut buf = [0u8; 4];
        rng.fill(&mut buf).expect("system randomness");
        let n = u32::from_be_bytes(buf);
        // Reject the top of the range so every code is equally likely.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

fn csrf_ok(state: &AppState, headers: &HeaderMap, submitted: &str) -> Result<(), PageError> {
    if csrf::verify(headers, submitted, state.config.session.secure_cookies) {
        Ok(())
    } else {
        Err(PageError::form_expired())
    }
}

async fn load_flow(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, Flow)>, PageError> {
    let Some(token) = cookies::get(headers, cookies::RESET, state.config.session.secure_cookies)
    else {
        return Ok(None);
    };
    let Some(raw) = state.ephemeral.get(&flow_key(&token)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_str(&raw).ok().map(|flow| (token, flow)))
}

async fn save_flow(state: &AppState, token: &str, flow: &Flow) -> Result<(), PageError> {
    let value = serde_json::to_string(flow).expect("flow serialises");
    // The journey outlives its code, so an expired code is explained, not a restart.
    let lifetime = ttl(state) + FLOW_EXTRA_LIFETIME;
    state
        .ephemeral
        .put(&flow_key(token), &value, lifetime)
        .await?;
    Ok(())
}

/// A new journey for this browser; returns its `Set-Cookie`.
async fn start_flow(state: &AppState, flow: &Flow) -> Result<HeaderValue, PageError> {
    let token = secrets::random_token(32);
    save_flow(state, &token, flow).await?;
    Ok(cookies::set(
        cookies::RESET,
        &token,
        state.config.session.secure_cookies,
        None,
    ))
}

/// A page with a CSRF token, never cached.
fn page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    build: impl FnOnce(String) -> Response,
) -> Response {
    let token = csrf::token(headers, state.config.session.secure_cookies);
    let mut response = build(token.value);
    *response.status_mut() = status;
    if let Some(cookie) = token.set_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn see_other(path: &str, cookie: Option<HeaderValue>) -> Response {
    let mut response = Redirect::to(path).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A reset request just stored: what the e-mail carries.
pub struct NewRequest {
    /// The 6-digit code to type at step 2.
    pub code: String,
    /// The token of the link `/mot-de-passe-oublie/lien?jeton=…`, which skips step 2.
    pub link_token: String,
}

/// Stores a new reset request for `email`, replacing its pending one, valid `ttl`: its code
/// and link lead to step 3 (the new password) of this journey. `user_id` is `None` for an
/// unknown address, whose request can never succeed. Also used by the invitations, whose
/// link lets a person invited without a password choose their first one.
pub async fn create_request(
    state: &AppState,
    email: &Email,
    user_id: Option<&str>,
    ttl: Duration,
) -> Result<NewRequest, EphemeralError> {
    let code = six_digits();
    let link_token = secrets::random_token(32);
    let rid = secrets::random_token(16);
    let request = ResetRequest {
        code_hash: code_hash(&rid, &code),
        rid,
        user_id: user_id.map(str::to_owned),
        link_hash: secrets::hash(&link_token),
    };
    let value = serde_json::to_string(&request).expect("request serialises");
    state
        .ephemeral
        .put(&request_key(email.as_str()), &value, ttl)
        .await?;
    state
        .ephemeral
        .put(&link_key(&link_token), email.as_str(), ttl)
        .await?;
    Ok(NewRequest { code, link_token })
}

// ---- Step 1: the address ----

#[derive(Template, WebTemplate)]
#[template(path = "reset_email.html")]
struct EmailPage {
    csrf: String,
    email: String,
    error: Option<String>,
    robot: anti_robot::AntiRobot,
}

/// `GET /mot-de-passe-oublie`: step 1, the address.
pub async fn show_start(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page(&state, &headers, StatusCode::OK, |csrf| {
        EmailPage {
            csrf,
            email: String::new(),
            error: None,
            robot: anti_robot::issue(&state),
        }
        .into_response()
    })
}

/// Fields of step 1.
#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(flatten)]
    robot: anti_robot::Fields,
}

/// `POST /mot-de-passe-oublie`: records a request and e-mails its code when the account
/// exists; the answer is the same either way.
pub async fn submit_start(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(form): Form<EmailForm>,
) -> Result<Response, PageError> {
    csrf_ok(&state, &headers, &form.csrf)?;
    let again = |error: String, status: StatusCode| {
        page(&state, &headers, status, |csrf| {
            EmailPage {
                csrf,
                email: form.email.clone(),
                robot: anti_robot::issue(&state).failed_if(Some(&error), "reset-error"),
                error: Some(error),
            }
            .into_response()
        })
    };
    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(e) => return Ok(again(e.to_string(), StatusCode::BAD_REQUEST)),
    };
    // The anti-robot check, before anything is counted or sent.
    if !anti_robot::verify(&state, &form.robot).await? {
        return Ok(again(anti_robot::FAILED.into(), StatusCode::BAD_REQUEST));
    }
    let limits = &state.config.limits;
    let window = Duration::from_secs(limits.reset_window_seconds);
    for (bucket, subject, max) in [
        ("reset-ip", ip.key(), limits.reset_per_ip),
        (
            "reset-address",
            email.as_str().to_owned(),
            limits.reset_per_address,
        ),
    ] {
        if let Err(limit) = rate_limit::hit(&state.ephemeral, bucket, &subject, max, window).await?
        {
            let message = format!(
                "Trop de demandes de réinitialisation. Veuillez réessayer dans {}.",
                rate_limit::french_duration(limit.retry_after)
            );
            return Ok(again(message, StatusCode::TOO_MANY_REQUESTS));
        }
    }

    let user = store::user_by_email(&state.db, &email).await?;
    // The same work for a known and an unknown address: a request is stored either way (an
    // unknown address's can never succeed), only the e-mail differs.
    let NewRequest { code, link_token } = create_request(
        &state,
        &email,
        user.as_ref().map(|u| u.id.as_str()),
        ttl(&state),
    )
    .await?;
    if let Some(user) = user {
        tracing::info!(user.id = %user.id, "password reset requested");
        // Sent after the answer, never before: waiting for the SMTP server would make a known
        // address's answer tens of milliseconds slower than an unknown one's, and tell them apart
        // (measured by tests/cluster/probe.py). A failed delivery is logged and counted; the
        // person sees no e-mail and asks again, as with an unknown address.
        let state = state.clone();
        let email = email.clone();
        tokio::spawn(async move {
            let name = format!("{} {}", user.given_name, user.family_name);
            let name = Some(name.trim()).filter(|n| !n.is_empty());
            let sent = match messages::password_reset(
                &state.config.issuer,
                &email,
                name,
                &code,
                &link_token,
            ) {
                Ok(message) => state.mailer.send(&message).await,
                Err(e) => Err(e),
            };
            if let Err(e) = sent {
                tracing::error!(user.id = %user.id, error.message = %e, "password reset e-mail not sent");
                // The code nobody received stays unusable; the next request makes a new one.
                for key in [request_key(email.as_str()), link_key(&link_token)] {
                    if let Err(e) = state.ephemeral.delete(&key).await {
                        tracing::warn!(error.message = %e, "unsent reset request not deleted");
                    }
                }
            }
        });
    }
    let cookie = start_flow(
        &state,
        &Flow {
            email: email.as_str().to_owned(),
            verified: None,
        },
    )
    .await?;
    Ok(see_other(RESET_CODE_PATH, Some(cookie)))
}

// ---- Step 2: the code ----

#[derive(Template, WebTemplate)]
#[template(path = "reset_code.html")]
struct CodePage {
    csrf: String,
    email: String,
    error: Option<String>,
}

/// `GET /mot-de-passe-oublie/code`: step 2, the e-mailed code.
pub async fn show_code(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some((_, flow)) = load_flow(&state, &headers).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    Ok(page(&state, &headers, StatusCode::OK, |csrf| {
        CodePage {
            csrf,
            email: flow.email,
            error: None,
        }
        .into_response()
    }))
}

/// Fields of step 2.
#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// `POST /mot-de-passe-oublie/code`: checks the code, 5 wrong tries at most.
pub async fn submit_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Result<Response, PageError> {
    csrf_ok(&state, &headers, &form.csrf)?;
    let Some((token, mut flow)) = load_flow(&state, &headers).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    let again = |error: &str, status: StatusCode| {
        page(&state, &headers, status, |csrf| {
            CodePage {
                csrf,
                email: flow.email.clone(),
                error: Some(error.to_owned()),
            }
            .into_response()
        })
    };
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(again(
            "Le code doit comporter 6 chiffres.",
            StatusCode::BAD_REQUEST,
        ));
    }
    let key = request_key(&flow.email);
    let Some(request) = state
        .ephemeral
        .get(&key)
        .await?
        .and_then(|raw| serde_json::from_str::<ResetRequest>(&raw).ok())
    else {
        return Ok(again(CODE_EXPIRED, StatusCode::GONE));
    };
    // Counted before the comparison, atomically: concurrent guesses cannot exceed the limit.
    let (tries, _) = state
        .ephemeral
        .hit(&format!("reset:tries:{}", request.rid), ttl(&state))
        .await?;
    if tries > MAX_CODE_TRIES {
        state.ephemeral.delete(&key).await?;
        return Ok(again(CODE_DEAD, StatusCode::GONE));
    }
    let right = secrets::constant_time_eq(
        code_hash(&request.rid, &code).as_bytes(),
        request.code_hash.as_bytes(),
    );
    match request.user_id {
        Some(user_id) if right => {
            flow.verified = Some(Verified {
                user_id,
                rid: request.rid,
                via: "code".into(),
            });
            save_flow(&state, &token, &flow).await?;
            Ok(see_other(RESET_PASSWORD_PATH, None))
        }
        _ => {
            let left = MAX_CODE_TRIES - tries;
            if left == 0 {
                state.ephemeral.delete(&key).await?;
                return Ok(again(CODE_DEAD, StatusCode::BAD_REQUEST));
            }
            let message = if left == 1 {
                format!("{CODE_INCORRECT} Il vous reste 1 essai.")
            } else {
                format!("{CODE_INCORRECT} Il vous reste {left} essais.")
            };
            Ok(again(&message, StatusCode::BAD_REQUEST))
        }
    }
}

/// Query of the e-mailed link.
#[derive(Deserialize)]
pub struct LinkQuery {
    #[serde(default)]
    jeton: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "reset_message.html")]
struct MessagePage {
    success: bool,
    message: String,
}

/// `GET /mot-de-passe-oublie/lien?jeton=…`: the e-mailed link, in place of typing the code.
/// It checks the token without spending it (mail scanners open links), the password change does.
pub async fn follow_link(
    State(state): State<AppState>,
    Query(q): Query<LinkQuery>,
) -> Result<Response, PageError> {
    let expired = || {
        let mut response = MessagePage {
            success: false,
            message: LINK_EXPIRED.into(),
        }
        .into_response();
        *response.status_mut() = StatusCode::GONE;
        response
    };
    if q.jeton.is_empty() {
        return Ok(expired());
    }
    let Some(email) = state.ephemeral.get(&link_key(&q.jeton)).await? else {
        return Ok(expired());
    };
    let request = state
        .ephemeral
        .get(&request_key(&email))
        .await?
        .and_then(|raw| serde_json::from_str::<ResetRequest>(&raw).ok());
    let Some(request) = request else {
        return Ok(expired());
    };
    // A newer request replaced the one this link belonged to.
    let current = secrets::constant_time_eq(
        secrets::hash(&q.jeton).as_bytes(),
        request.link_hash.as_bytes(),
    );
    let Some(user_id) = request.user_id.filter(|_| current) else {
        return Ok(expired());
    };
    let cookie = start_flow(
        &state,
        &Flow {
            email,
            verified: Some(Verified {
                user_id,
                rid: request.rid,
                via: "link".into(),
            }),
        },
    )
    .await?;
    Ok(see_other(RESET_PASSWORD_PATH, Some(cookie)))
}

// ---- Step 3: the new password ----

#[derive(Template, WebTemplate)]
#[template(path = "reset_password.html")]
struct PasswordPage {
    csrf: String,
    email: String,
    error: Option<String>,
}

/// `GET /mot-de-passe-oublie/nouveau`: step 3, the new password.
pub async fn show_password(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some((_, flow)) = load_flow(&state, &headers).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    if flow.verified.is_none() {
        return Ok(see_other(RESET_CODE_PATH, None));
    }
    Ok(page(&state, &headers, StatusCode::OK, |csrf| {
        PasswordPage {
            csrf,
            email: flow.email,
            error: None,
        }
        .into_response()
    }))
}

/// Fields of step 3.
#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirmation: String,
}

/// `POST /mot-de-passe-oublie/nouveau`: sets the password, spends the request, ends every
/// session and token of the account.
pub async fn submit_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, PageError> {
    csrf_ok(&state, &headers, &form.csrf)?;
    let Some((token, mut flow)) = load_flow(&state, &headers).await? else {
        return Ok(see_other(RESET_START_PATH, None));
    };
    let Some(verified) = flow.verified.take() else {
        return Ok(see_other(RESET_CODE_PATH, None));
    };
    let again = |error: String| {
        page(&state, &headers, StatusCode::BAD_REQUEST, |csrf| {
            PasswordPage {
                csrf,
                email: flow.email.clone(),
                error: Some(error),
            }
            .into_response()
        })
    };
    let password = match Password::parse(&form.password) {
        Ok(password) => password,
        Err(e) => return Ok(again(e.to_string())),
    };
    if form.password != form.confirmation {
        return Ok(again("Les mots de passe ne correspondent pas.".into()));
    }
    let phc = state.hasher.hash(&password).await?;
    // Spent here, atomically: of two browsers holding the same code, one changes the password.
    let key = request_key(&flow.email);
    let spent = state
        .ephemeral
        .take(&key)
        .await?
        .and_then(|raw| serde_json::from_str::<ResetRequest>(&raw).ok());
    match spent {
        Some(request) if request.rid == verified.rid => {}
        other => {
            // Taken by mistake (a newer request): put it back untouched.
            if let Some(request) = other {
                let value = serde_json::to_string(&request).expect("request serialises");
                state.ephemeral.put(&key, &value, ttl(&state)).await?;
            }
            save_flow(&state, &token, &flow).await?;
            let mut response = MessagePage {
                success: false,
                message: CODE_EXPIRED.into(),
            }
            .into_response();
            *response.status_mut() = StatusCode::GONE;
            return Ok(response);
        }
    }
    let id = UserId::from_stored(verified.user_id.clone());
    let ttl = state.config.tokens.access_token_ttl_seconds;
    reset_password(&state.db, state.clock.now(), &id, &phc, &verified.via, ttl).await?;
    state
        .revocations
        .changed(&state.db, &state.ephemeral)
        .await?;
    session::end_all_for_user(&state, &verified.user_id).await?;
    tracing::info!(user.id = %verified.user_id, "password reset");
    // The journey stays, back at step 2: going back and re-entering the code says it is spent.
    save_flow(&state, &token, &flow).await?;
    let mut response = MessagePage {
        success: true,
        message: "Votre mot de passe a été modifié avec succès.".into(),
    }
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
