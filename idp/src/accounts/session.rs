//! Login sessions of the provider: who is logged in on this browser, since when, and how.
//! Kept in the shared store (any node reads them); the cookie holds a 256-bit random token
//! and the store only its hash.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::{
    AppState, secrets,
    store::{ephemeral::EphemeralError, now},
    web::cookies,
};

/// A logged-in browser.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoginSession {
    /// Public session id: the `sid` claim, and how logout finds the session.
    pub sid: String,
    /// The account.
    pub user_id: String,
    /// When the person last proved who they are (seconds).
    pub auth_time: i64,
    /// Methods used (`pwd`, later `otp`).
    pub amr: Vec<String>,
    /// Level reached (`pwd` or `mfa`).
    pub acr: String,
}

fn key(token: &str) -> String {
    format!("session:{}", secrets::hash(token))
}

impl LoginSession {
    /// The session of this browser, if it has a live one.
    pub async fn from_headers(
        state: &AppState,
        headers: &HeaderMap,
    ) -> Result<Option<Self>, EphemeralError> {
        let Some(token) = cookies::get(
            headers,
            cookies::SESSION,
            state.config.session.secure_cookies,
        ) else {
            return Ok(None);
        };
        let Some(raw) = state.ephemeral.get(&key(&token)).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str(&raw).ok())
    }

    /// Starts a session after a successful login; the old one (if any) is ended so a session
    /// token planted before login is worthless after it. Returns the `Set-Cookie`.
    pub async fn start(
        state: &AppState,
        headers: &HeaderMap,
        user_id: &str,
        amr: Vec<String>,
    ) -> Result<(Self, HeaderValue), EphemeralError> {
        end(state, headers).await?;
        let token = secrets::random_token(32);
        let session = Self {
            sid: secrets::random_token(16),
            user_id: user_id.to_owned(),
            auth_time: now(),
            acr: if amr.iter().any(|m| m == "otp") {
                "mfa".into()
            } else {
                "pwd".into()
            },
            amr,
        };
        let ttl = Duration::from_secs(state.config.session.ttl_seconds);
        let value = serde_json::to_string(&session).expect("session serialises");
        state.ephemeral.put(&key(&token), &value, ttl).await?;
        remember(state, user_id, &key(&token), ttl).await?;
        let cookie = cookies::set(
            cookies::SESSION,
            &token,
            state.config.session.secure_cookies,
            None,
        );
        Ok((session, cookie))
    }
}

/// Ends this browser's session, if any; returns the `Set-Cookie` that clears the cookie.
pub async fn end(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, EphemeralError> {
    let secure = state.config.session.secure_cookies;
    if let Some(token) = cookies::get(headers, cookies::SESSION, secure) {
        state.ephemeral.delete(&key(&token)).await?;
    }
    Ok(cookies::set(cookies::SESSION, "", secure, Some(0)))
}

/// Where the keys of a user's sessions are listed, so a password reset can end them all.
fn user_index_key(user_id: &str) -> String {
    format!("user-sessions:{user_id}")
}

/// Adds a session key to its user's list (which lives as long as its newest session). Two
/// logins of one account at the same instant on two nodes could lose an entry; a lost entry
/// only means that session outlives a reset until its own expiry.
async fn remember(
    state: &AppState,
    user_id: &str,
    session_key: &str,
    ttl: Duration,
) -> Result<(), EphemeralError> {
    let index = user_index_key(user_id);
    let mut keys: Vec<String> = match state.ephemeral.get(&index).await? {
        Some(raw) => serde_json::from_str(&raw).unwrap_or_default(),
        None => Vec::new(),
    };
    // Drop the keys of sessions already gone, so the list stays as small as the live ones.
    let mut live = Vec::with_capacity(keys.len() + 1);
    for k in keys.drain(..) {
        if state.ephemeral.get(&k).await?.is_some() {
            live.push(k);
        }
    }
    live.push(session_key.to_owned());
    let value = serde_json::to_string(&live).expect("keys serialise");
    state.ephemeral.put(&index, &value, ttl).await
}

/// Ends every session of a user, on every browser (password reset).
pub async fn end_all_for_user(state: &AppState, user_id: &str) -> Result<(), EphemeralError> {
    let Some(raw) = state.ephemeral.take(&user_index_key(user_id)).await? else {
        return Ok(());
    };
    let keys: Vec<String> = serde_json::from_str(&raw).unwrap_or_default();
    for k in keys {
        state.ephemeral.delete(&k).await?;
    }
    Ok(())
}
