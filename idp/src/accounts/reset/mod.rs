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
mod code;
mod link;
mod password;
mod start;

pub use code::{CodeForm, resend_code, show_code, submit_code};
pub use link::{LinkQuery, follow_link};
pub use password::{PasswordForm, show_password, submit_password};
pub use start::{show_start, submit_start};

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};

use super::{
    Email, Password, UserId, actions::reset_password::reset_password, back::Back, session, store,
};
use crate::{
    AppState,
    error::PageError,
    secrets,
    store::ephemeral::EphemeralError,
    web::{anti_robot, client_ip::ClientIp, cookies, page::Page, rate_limit},
};
/// Step 1's page, where the journey starts (e-mail + anti-robot check).
pub const RESET_START_PATH: &str = "/mot-de-passe-oublie";
/// Where the e-mailed link leads, with the request's token in `jeton`.
pub const RESET_LINK_PATH: &str = "/mot-de-passe-oublie/lien";

/// Step 2's page.
pub const RESET_CODE_PATH: &str = "/mot-de-passe-oublie/code";
/// Step 2's « Renvoyer le code »: a new code to the journey's address.
pub const RESET_RESEND_PATH: &str = "/mot-de-passe-oublie/code/renvoyer";
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
    /// When it dies (seconds, the provider's clock); the shared store forgets it then too.
    #[serde(default)]
    expires_at: Option<i64>,
    /// Made by an invitation for an account without a password: its link leads to the
    /// person's first password, not a reset, and the pages say so.
    #[serde(default)]
    first_password: bool,
    /// The service the journey came from: a browser that follows the e-mailed link ends there
    /// too.
    #[serde(default)]
    back: Back,
}

impl ResetRequest {
    /// The stored request, if it is one and still live at `now`.
    fn read(raw: &str, now: i64) -> Option<Self> {
        serde_json::from_str::<Self>(raw)
            .ok()
            .filter(|r| r.expires_at.is_none_or(|at| now < at))
    }
}

/// One browser's journey.
#[derive(Serialize, Deserialize)]
struct Flow {
    email: String,
    /// Set once the code (or link) was checked.
    verified: Option<Verified>,
    /// Came by an invitation's link: the person chooses a first password.
    #[serde(default)]
    first_password: bool,
    /// Where the journey ends: the service it came from.
    #[serde(default)]
    back: Back,
}

impl Flow {
    /// The title of the journey's pages: an invited person creates a password, others reset it.
    fn title(&self) -> &'static str {
        if self.first_password {
            FIRST_PASSWORD_TITLE
        } else {
            RESET_TITLE
        }
    }
}

/// The title of the reset's pages (guide `002` §5.2).
const RESET_TITLE: &str = "Réinitialisation de mot de passe";
/// Their title for a person invited without a password, who follows the invitation's link.
const FIRST_PASSWORD_TITLE: &str = "Création de votre mot de passe";

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

async fn load_flow(page: &Page) -> Result<Option<(String, Flow)>, PageError> {
    let Some(token) = cookies::get(
        page.headers(),
        cookies::RESET,
        page.config.session.secure_cookies,
    ) else {
        return Ok(None);
    };
    let Some(raw) = page.ephemeral.get(&flow_key(&token)).await? else {
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
/// link lets a person invited without a password choose their first one (`first_password`).
/// The journey ends on `back`'s service, in whichever browser it ends.
pub async fn create_request(
    state: &AppState,
    email: &Email,
    user_id: Option<&str>,
    ttl: Duration,
    first_password: bool,
    back: &Back,
) -> Result<NewRequest, EphemeralError> {
    let code = secrets::six_digits();
    let link_token = secrets::random_token(32);
    let rid = secrets::random_token(16);
    let request = ResetRequest {
        code_hash: code_hash(&rid, &code),
        rid,
        user_id: user_id.map(str::to_owned),
        link_hash: secrets::hash(&link_token),
        expires_at: Some(state.clock.now() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX)),
        first_password,
        back: back.clone(),
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

#[derive(Template, WebTemplate)]
#[template(path = "reset_message.html")]
struct MessagePage {
    success: bool,
    message: String,
    /// « Réinitialisation de mot de passe » or « Création de votre mot de passe ».
    title: &'static str,
    /// Back to the service the journey came from.
    next: Option<super::back::Continue>,
}
