//! Second factor: TOTP (RFC 6238) with single-use recovery codes. Owns the enrolment page
//! and its disabling ([`enrol`]), and the login's second step ([`login_step`]). Secrets are stored sealed under the KEK with the user id as associated
//! data (a row cannot be moved to another account); recovery codes are stored as SHA-256
//! hashes (they are random and high-entropy); the last accepted time step is kept per account
//! so a code is accepted once.

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::{
    http::StatusCode,
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
    count_account_attempt,
    guard::Guard,
    passkeys::store as passkeys,
    session::LoginSession,
    store as users,
};
use crate::{
    AppState,
    error::PageError,
    oidc::pending::PendingAuthorization,
    secrets,
    store::{Db, now},
    web::{
        client_ip::ClientIp,
        page::{CsrfForm, Page},
    },
};

/// The enrolment page (status, or a new secret and its QR code).
pub const PATH: &str = "/compte/double-authentification";
/// Where the enrolment page posts to disable the second factor.
pub const DISABLE_PATH: &str = "/compte/double-authentification/desactivation";
/// The login's second step: the code.
pub const CODE_PATH: &str = "/connexion/code";

mod enrol;
pub(crate) mod login_step;

pub use enrol::{DisableForm, EnrolForm, disable, enrol, show};
pub use login_step::{CodeForm, ask_code, ask_code_then, submit_code};

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

/// Whether the login asks this account a second factor: it has a TOTP, or a passkey (when
/// passkeys are offered, accounts/passkeys).
pub async fn has_second_factor(state: &AppState, user_id: &str) -> Result<bool, sqlx::Error> {
    if is_enrolled(&state.db, user_id).await? {
        return Ok(true);
    }
    Ok(super::passkeys::available(&state.config) && passkeys::has_any(&state.db, user_id).await?)
}

/// How many unused recovery codes an account has.
pub async fn recovery_codes_left(db: &Db, user_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM totp_recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await?
        .try_get("n")
}

/// New recovery codes: the codes, shown once, and their hashes, stored.
pub fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| secrets::random_token(12))
        .collect();
    let hashes = codes.iter().map(|c| secrets::hash(c)).collect();
    (codes, hashes)
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

/// Checks a TOTP code or a recovery code for an enrolled account typed from `ip`, consuming it.
/// Guarded per account and address ([`Guard`]: the login's second step and the account pages
/// share it), so a password guessed elsewhere does not let its holder lock the owner out of
/// their second factor.
pub(crate) async fn verify_second_factor(
    state: &AppState,
    ip: &ClientIp,
    user_id: &str,
    account: &str,
    code: &str,
) -> Result<bool, PageError> {
    let guard = Guard::new(state, "login-totp", user_id, ip);
    guard.check().await?;
    let right = check_second_factor(state, user_id, account, code).await?;
    if right {
        guard.succeeded().await?;
    } else {
        guard.failed().await?;
    }
    Ok(right)
}

/// [`verify_second_factor`] without its guard.
async fn check_second_factor(
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

/// Where a login goes next: back to its authorization request, to the provider's own page that
/// asked for the second factor (a local path, only ever written by [`remember_page`]), or home.
pub(super) async fn continue_target(
    state: &AppState,
    authreq: &str,
    sid: &str,
) -> Result<String, PageError> {
    if let Some(here) = crate::web::page::safe_return(authreq) {
        return Ok(here.to_owned());
    }
    Ok(match PendingAuthorization::load(state, authreq).await? {
        Some(pending) => {
            pending.logged_in(state, authreq, sid).await?;
            format!("/authorize/continue?authreq={authreq}")
        }
        None => "/".to_owned(),
    })
}

/// Where a login that needs `mfa` but has no second factor resumes after enrolment.
pub(super) fn return_key(sid: &str) -> String {
    format!("totp-return:{}", secrets::hash(sid))
}

/// Called by the provider's own pages that need two factors when the account has none: the
/// session (password only) is kept, and the local page `here` is shown again after enrolment.
pub async fn remember_page(state: &AppState, sid: &str, here: &str) -> Result<(), PageError> {
    let here = crate::web::page::safe_return(here).unwrap_or("/");
    remember_return(state, sid, here).await
}

/// Called by the authorization when the level it needs asks for a second factor and the account
/// has none: the session (password only) is kept, the request is resumed after enrolment.
pub async fn remember_return(state: &AppState, sid: &str, authreq: &str) -> Result<(), PageError> {
    state
        .ephemeral
        .put(&return_key(sid), authreq, ENROLMENT_TTL)
        .await?;
    Ok(())
}
