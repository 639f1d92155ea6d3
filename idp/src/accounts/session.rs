//! Login sessions of the provider: who is logged in on this browser, since when, and how.
//! Kept in the shared store (any node reads them); the cookie holds a 256-bit random token
//! and the store only its hash.

use std::time::Duration;

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::Response,
};
use serde::{Deserialize, Serialize};

use super::{
    UserId,
    standing::{self, Standing},
};
use crate::{
    AppState,
    error::PageError,
    oidc::{actions::logout_queue, backchannel::EndedSession},
    secrets,
    store::{ephemeral::EphemeralError, now},
    web::{cookies, csrf},
};

/// The `Set-Cookie` values of a change of this browser's session (a login, a logout): the
/// session cookie, and a new CSRF browser value, so the forms of pages shown before the change
/// are refused after it (web/csrf.rs).
#[must_use = "the browser must get its new cookies"]
pub struct SessionCookies([HeaderValue; 2]);

impl SessionCookies {
    fn new(session: HeaderValue, secure: bool) -> Self {
        Self([session, csrf::renewed_cookie(secure)])
    }

    /// The values, in order: the session cookie, the CSRF cookie.
    pub fn values(&self) -> &[HeaderValue] {
        &self.0
    }

    /// Adds them to `response`.
    pub fn add_to(self, response: &mut Response) {
        for cookie in self.0 {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
}

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
    /// When the session started (seconds); 0 for sessions stored before it was recorded.
    #[serde(default)]
    pub started_at: i64,
    /// The browser's `User-Agent` at login, cut to [`MAX_USER_AGENT_CHARS`]; empty if unknown.
    #[serde(default)]
    pub user_agent: String,
    /// The upstream OpenID provider (its configured id) the person logged in through
    /// (« AGENT DU MINISTÈRE »): what makes this session an agent's; `None` for a local login.
    #[serde(default)]
    pub upstream: Option<String>,
    /// How to end the person's session at that upstream too when they log out here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_logout: Option<UpstreamLogout>,
}

/// An agent's login through an upstream provider (« AGENT DU MINISTÈRE »).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ViaUpstream {
    /// The upstream's configured id.
    pub id: String,
    /// Its RP-initiated logout, when it has one.
    pub logout: Option<UpstreamLogout>,
}

/// RP-initiated logout at an upstream: its `end_session_endpoint` and the ID token it issued
/// (the `id_token_hint`), kept with the session in the shared store, never in a cookie.
#[derive(Clone, Serialize, Deserialize)]
pub struct UpstreamLogout {
    /// Where the browser is sent.
    pub end_session_endpoint: String,
    /// The upstream's ID token of this login.
    pub id_token_hint: String,
}

// Hand-written so that the ID token never reaches a log line.
impl std::fmt::Debug for UpstreamLogout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamLogout")
            .field("end_session_endpoint", &self.end_session_endpoint)
            .field("id_token_hint", &"<redacted>")
            .finish()
    }
}

/// Longest `User-Agent` kept with a session (the sessions page shows a short form of it).
pub const MAX_USER_AGENT_CHARS: usize = 256;

/// The browser's `User-Agent`, without control characters, cut at [`MAX_USER_AGENT_CHARS`]:
/// what a session and the audit trail keep of it.
pub fn user_agent(headers: &HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_CHARS)
        .collect()
}

fn key(token: &str) -> String {
    format!("session:{}", secrets::hash(token))
}

impl LoginSession {
    /// This session as back-channel logout names it to the clients (`sub`, `sid`).
    pub fn ended(&self) -> EndedSession {
        EndedSession {
            user_id: self.user_id.clone(),
            sid: self.sid.clone(),
        }
    }

    /// The session of this browser, if it has a live one that still holds: not if an operator
    /// ended the account's sessions or disabled it since, nor once the account is gone
    /// ([`standing`]; read from the database, which every node and the command line share).
    pub async fn from_headers(
        state: &AppState,
        headers: &HeaderMap,
    ) -> Result<Option<Self>, PageError> {
        let Some((key, session)) = Self::stored(state, headers).await? else {
            return Ok(None);
        };
        let user = UserId::from_stored(session.user_id.clone());
        let standing = standing::of(&state.db.pool, &user).await?;
        Ok(session.if_holds(state, &key, standing).await?)
    }

    /// The session this browser's cookie names, as stored, with its key; not checked against
    /// its account's [`standing`] (for a caller that reads the account anyway, then
    /// [`Self::if_holds`]).
    pub(crate) async fn stored(
        state: &AppState,
        headers: &HeaderMap,
    ) -> Result<Option<(String, Self)>, EphemeralError> {
        let Some(token) = cookies::get(
            headers,
            cookies::SESSION,
            state.config.session.secure_cookies,
        ) else {
            return Ok(None);
        };
        let key = key(&token);
        let Some(raw) = state.ephemeral.get(&key).await? else {
            return Ok(None);
        };
        Ok(serde_json::from_str(&raw).ok().map(|s| (key, s)))
    }

    /// This session if it holds for its account's `standing` (`None`: no such account);
    /// otherwise it is dropped from the store (its clients were told when it was ended).
    pub(crate) async fn if_holds(
        self,
        state: &AppState,
        key: &str,
        standing: Option<Standing>,
    ) -> Result<Option<Self>, EphemeralError> {
        if standing.is_some_and(|s| s.session_holds(self.started_at)) {
            return Ok(Some(self));
        }
        state.ephemeral.delete(key).await?;
        Ok(None)
    }

    /// Starts a session after a successful login; the old one (if any) is ended so a session
    /// token planted before login is worthless after it. Returns the `Set-Cookie` values.
    pub async fn start(
        state: &AppState,
        headers: &HeaderMap,
        user_id: &str,
        amr: Vec<String>,
    ) -> Result<(Self, SessionCookies), EphemeralError> {
        Self::start_via(state, headers, user_id, amr, None).await
    }

    /// [`Self::start`], for a login through an upstream provider (if any).
    pub async fn start_via(
        state: &AppState,
        headers: &HeaderMap,
        user_id: &str,
        amr: Vec<String>,
        upstream: Option<ViaUpstream>,
    ) -> Result<(Self, SessionCookies), EphemeralError> {
        // The new session's cookies replace the ended one's in this same answer.
        let _ = end_returning(state, headers).await?;
        let token = secrets::random_token(32);
        let user_agent = user_agent(headers);
        let session = Self {
            sid: secrets::random_token(16),
            user_id: user_id.to_owned(),
            auth_time: state.clock.now(),
            acr: if amr.iter().any(|m| m == "otp" || m == "mfa") {
                "mfa".into()
            } else {
                "pwd".into()
            },
            amr,
            started_at: state.clock.now(),
            user_agent,
            upstream_logout: upstream.as_ref().and_then(|u| u.logout.clone()),
            upstream: upstream.map(|u| u.id),
        };
        let ttl = Duration::from_secs(state.config.session.ttl_seconds);
        let value = serde_json::to_string(&session).expect("session serialises");
        state.ephemeral.put(&key(&token), &value, ttl).await?;
        // Sessions pushed out by `session.max_per_account` end like any other: their clients
        // are told.
        let pushed_out = remember(state, user_id, &key(&token), ttl).await?;
        tell_clients(state, pushed_out.into_iter()).await;
        crate::access::invitations::mark_connected(&state.db, user_id).await;
        let secure = state.config.session.secure_cookies;
        let cookie = cookies::set(cookies::SESSION, &token, secure, None);
        Ok((session, SessionCookies::new(cookie, secure)))
    }
}

/// Ends this browser's session, if any, and queues the logout tokens of the clients it logged
/// into; returns the `Set-Cookie` values that clear the cookie and renew the CSRF one.
pub async fn end(state: &AppState, headers: &HeaderMap) -> Result<SessionCookies, EphemeralError> {
    Ok(end_returning(state, headers).await?.1)
}

/// [`end`], with the session ended (logout goes on to its upstream's).
pub async fn end_returning(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Option<LoginSession>, SessionCookies), EphemeralError> {
    let secure = state.config.session.secure_cookies;
    let mut ended = None;
    if let Some(token) = cookies::get(headers, cookies::SESSION, secure)
        && let Some(raw) = state.ephemeral.take(&key(&token)).await?
    {
        ended = parse(&raw);
        tell_clients(state, ended.clone().into_iter()).await;
    }
    let clear = cookies::set(cookies::SESSION, "", secure, Some(0));
    Ok((ended, SessionCookies::new(clear, secure)))
}

fn parse(raw: &str) -> Option<LoginSession> {
    serde_json::from_str(raw).ok()
}

/// Queues the back-channel logout of sessions just ended (never fails the logout). Every path
/// that ends a session comes through here: logout, a new login on the same browser, the
/// per-account cap, « Mes sessions », a password change or reset. Account deletion queues its
/// tokens itself, in its transaction, before the grants they are found from go.
async fn tell_clients(state: &AppState, ended: impl Iterator<Item = LoginSession>) {
    let ended: Vec<_> = ended.map(|s| s.ended()).collect();
    logout_queue::sessions_ended(state, &ended).await;
}

/// Where the keys of a user's sessions are listed, so a password reset can end them all.
fn user_index_key(user_id: &str) -> String {
    format!("user-sessions:{user_id}")
}

/// One entry of a user's session index: the session's key and when it expires (a session's
/// lifetime is fixed at login), so expired entries are dropped without asking the store. The
/// index used to hold bare keys and be pruned by reading each listed session, one store round
/// trip each: thousands for an account logged in thousands of times (bench/run.py, on Redis).
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum IndexEntry {
    Dated {
        key: String,
        until: i64,
    },
    /// An entry written before the dates: kept until pushed out by the cap.
    Plain(String),
}

impl IndexEntry {
    fn key(&self) -> &str {
        match self {
            Self::Dated { key, .. } | Self::Plain(key) => key,
        }
    }

    fn expired(&self, now: i64) -> bool {
        matches!(self, Self::Dated { until, .. } if *until <= now)
    }
}

/// Adds a session key to its user's list (which lives as long as its newest session): expired
/// entries are dropped, and the oldest sessions past `session.max_per_account` are ended and
/// returned, so their clients are told. Two logins of one account at the same instant on two
/// nodes could lose an entry; a lost entry only means that session outlives a reset until its
/// own expiry.
async fn remember(
    state: &AppState,
    user_id: &str,
    session_key: &str,
    ttl: Duration,
) -> Result<Vec<LoginSession>, EphemeralError> {
    let index = user_index_key(user_id);
    let at = now();
    let mut entries = index_entries(state, user_id).await?;
    entries.retain(|e| !e.expired(at));
    entries.push(IndexEntry::Dated {
        key: session_key.to_owned(),
        until: at + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
    });
    let excess = entries
        .len()
        .saturating_sub(state.config.session.max_per_account);
    let mut pushed_out = Vec::new();
    for oldest in entries.drain(..excess) {
        if let Some(raw) = state.ephemeral.take(oldest.key()).await? {
            pushed_out.extend(parse(&raw).filter(|s| s.user_id == user_id));
        }
    }
    let value = serde_json::to_string(&entries).expect("index entries serialise");
    state.ephemeral.put(&index, &value, ttl).await?;
    Ok(pushed_out)
}

/// Ends every session of a user, on every browser (password reset).
pub async fn end_all_for_user(state: &AppState, user_id: &str) -> Result<(), EphemeralError> {
    let Some(raw) = state.ephemeral.take(&user_index_key(user_id)).await? else {
        return Ok(());
    };
    let entries: Vec<IndexEntry> = serde_json::from_str(&raw).unwrap_or_default();
    let mut ended = Vec::new();
    for e in entries {
        if let Some(raw) = state.ephemeral.take(e.key()).await? {
            ended.extend(parse(&raw));
        }
    }
    tell_clients(state, ended.into_iter()).await;
    Ok(())
}

/// The live sessions of a user, oldest first, read through the per-user index (a session
/// whose index entry was lost is not listed).
pub async fn list_for_user(
    state: &AppState,
    user_id: &str,
) -> Result<Vec<LoginSession>, EphemeralError> {
    let mut sessions = Vec::new();
    for k in indexed_keys(state, user_id).await? {
        if let Some(raw) = state.ephemeral.get(&k).await?
            && let Ok(session) = serde_json::from_str::<LoginSession>(&raw)
            && session.user_id == user_id
        {
            sessions.push(session);
        }
    }
    sessions.sort_by_key(|s| s.started_at);
    Ok(sessions)
}

/// Ends the session `sid` of a user (on whatever browser holds it); `false` if the user has
/// no such live session.
pub async fn end_by_sid(
    state: &AppState,
    user_id: &str,
    sid: &str,
) -> Result<bool, EphemeralError> {
    let mut ended = Vec::new();
    for k in indexed_keys(state, user_id).await? {
        if let Some(raw) = state.ephemeral.get(&k).await?
            && let Ok(session) = serde_json::from_str::<LoginSession>(&raw)
            && session.user_id == user_id
            && secrets::constant_time_eq(session.sid.as_bytes(), sid.as_bytes())
        {
            state.ephemeral.delete(&k).await?;
            ended.push(session);
        }
    }
    let any = !ended.is_empty();
    tell_clients(state, ended.into_iter()).await;
    Ok(any)
}

/// Ends every session of a user except `keep_sid` (this browser's); returns how many ended.
pub async fn end_others_for_user(
    state: &AppState,
    user_id: &str,
    keep_sid: &str,
) -> Result<usize, EphemeralError> {
    let mut ended = 0;
    let mut sessions = Vec::new();
    for k in indexed_keys(state, user_id).await? {
        let Some(raw) = state.ephemeral.get(&k).await? else {
            continue;
        };
        let session = parse(&raw);
        let keep = session
            .as_ref()
            .is_some_and(|s| s.user_id == user_id && s.sid == keep_sid);
        if !keep {
            state.ephemeral.delete(&k).await?;
            ended += 1;
            sessions.extend(session.filter(|s| s.user_id == user_id));
        }
    }
    tell_clients(state, sessions.into_iter()).await;
    Ok(ended)
}

/// The entries of a user's session index, oldest first.
async fn index_entries(state: &AppState, user_id: &str) -> Result<Vec<IndexEntry>, EphemeralError> {
    Ok(match state.ephemeral.get(&user_index_key(user_id)).await? {
        Some(raw) => serde_json::from_str(&raw).unwrap_or_default(),
        None => Vec::new(),
    })
}

/// The keys of a user's sessions that have not expired.
async fn indexed_keys(state: &AppState, user_id: &str) -> Result<Vec<String>, EphemeralError> {
    let at = now();
    Ok(index_entries(state, user_id)
        .await?
        .into_iter()
        .filter(|e| !e.expired(at))
        .map(|e| match e {
            IndexEntry::Dated { key, .. } | IndexEntry::Plain(key) => key,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_entries_read_both_forms_and_know_when_they_expire() {
        let entries: Vec<IndexEntry> =
            serde_json::from_str(r#"["session:old",{"key":"session:new","until":100}]"#).unwrap();
        assert_eq!(entries[0].key(), "session:old");
        assert_eq!(entries[1].key(), "session:new");
        assert!(
            !entries[0].expired(i64::MAX),
            "an undated entry waits for the cap"
        );
        assert!(!entries[1].expired(99));
        assert!(entries[1].expired(100));
        let again = serde_json::to_string(&entries).unwrap();
        assert_eq!(
            again,
            r#"["session:old",{"key":"session:new","until":100}]"#
        );
    }

    #[test]
    fn sessions_stored_before_started_at_and_user_agent_still_read() {
        let old = r#"{"sid":"s1","user_id":"u1","auth_time":42,"amr":["pwd"],"acr":"pwd"}"#;
        let session: LoginSession = serde_json::from_str(old).unwrap();
        assert_eq!(session.sid, "s1");
        assert_eq!(session.started_at, 0);
        assert_eq!(session.user_agent, "");
    }
}
