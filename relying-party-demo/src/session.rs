//! Server-side sessions: an opaque random id in a cookie, everything else in memory.
//!
//! Each session sits behind its own async mutex, held for the whole request: requests of one
//! browser are served one at a time, so two of them never spend the same refresh token (the
//! provider rotates refresh tokens and revokes the grant when an old one comes back).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use axum::http::{HeaderMap, HeaderValue, header};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use subtle::ConstantTimeEq;

use crate::config::Config;

/// A session unused for this long is forgotten.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// 256 random bits, URL-safe base64.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The system RNG failing is not something a web page can recover from.
    aws_lc_rs::rand::fill(&mut bytes).expect("system random generator");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A login started on this browser, waiting for the provider's answer.
pub struct PendingLogin {
    /// `state` sent to the provider.
    pub state: String,
    /// `nonce` sent to the provider.
    pub nonce: String,
    /// PKCE verifier.
    pub verifier: String,
}

/// What a completed login left: the tokens (never logged) and the person's `sub`.
pub struct Login {
    /// The person's subject at the provider.
    pub sub: String,
    /// The latest ID token, for `id_token_hint` at logout.
    pub id_token: String,
    /// The nonce of the login, checked again on ID tokens returned by refreshes.
    pub nonce: String,
    /// The access token.
    pub access_token: String,
    /// The refresh token (rotated at each use).
    pub refresh_token: Option<String>,
    /// When the access token expires, if the provider said.
    pub expires_at: Option<Instant>,
}

/// One browser's session.
pub struct Session {
    /// The anti-CSRF token of every POST form of this session.
    pub csrf: String,
    /// A login in progress.
    pub pending: Option<PendingLogin>,
    /// The logged-in person.
    pub login: Option<Login>,
    /// Set after an activation: the next page gets fresh tokens (refresh grant) before
    /// anything else, as the person's habilitations changed at the provider.
    pub refresh_needed: bool,
}

impl Session {
    fn new() -> Self {
        Self {
            csrf: random_token(),
            pending: None,
            login: None,
            refresh_needed: false,
        }
    }

    /// Whether `submitted` is this session's CSRF token (compared in constant time).
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        !submitted.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(submitted.as_bytes()))
    }
}

struct Entry {
    session: Arc<tokio::sync::Mutex<Session>>,
    last_seen: Instant,
    /// Who logged in with this session, and under which provider session (`sid`): what a
    /// logout token names.
    login: Option<(String, Option<String>)>,
}

/// A session found for (or made for) a request.
#[derive(Clone)]
pub struct SessionHandle {
    /// Its id (the cookie's value).
    pub id: String,
    /// The session; lock it for the request.
    pub session: Arc<tokio::sync::Mutex<Session>>,
}

/// All sessions, in memory.
#[derive(Default)]
pub struct SessionStore {
    entries: Mutex<HashMap<String, Entry>>,
}

impl SessionStore {
    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere must not stop every later request.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The session of the request's cookie, if it exists and is not idle too long.
    pub fn find(&self, config: &Config, headers: &HeaderMap) -> Option<SessionHandle> {
        let id = cookie_value(headers, config.cookie_name())?;
        let now = Instant::now();
        let mut entries = self.entries();
        entries.retain(|_, e| now.duration_since(e.last_seen) < IDLE_TIMEOUT);
        let entry = entries.get_mut(&id)?;
        entry.last_seen = now;
        Some(SessionHandle {
            id,
            session: entry.session.clone(),
        })
    }

    /// A new, empty session under a new id.
    pub fn create(&self) -> SessionHandle {
        let id = random_token();
        let session = Arc::new(tokio::sync::Mutex::new(Session::new()));
        let mut entries = self.entries();
        // Sessions are made by anonymous visits too (`/login`): forget idle ones here as well.
        let now = Instant::now();
        entries.retain(|_, e| now.duration_since(e.last_seen) < IDLE_TIMEOUT);
        entries.insert(
            id.clone(),
            Entry {
                session: session.clone(),
                last_seen: Instant::now(),
                login: None,
            },
        );
        SessionHandle { id, session }
    }

    /// Forgets a session.
    pub fn remove(&self, id: &str) {
        self.entries().remove(id);
    }

    /// Moves a session to a new id after `sub` logged in under the provider session `sid`
    /// (so an id known before the login is worthless).
    pub fn rotate(&self, old: &SessionHandle, sub: &str, sid: Option<String>) -> SessionHandle {
        let id = random_token();
        let mut entries = self.entries();
        entries.remove(&old.id);
        entries.insert(
            id.clone(),
            Entry {
                session: old.session.clone(),
                last_seen: Instant::now(),
                login: Some((sub.to_owned(), sid)),
            },
        );
        SessionHandle {
            id,
            session: old.session.clone(),
        }
    }
}

impl SessionStore {
    /// Forgets the sessions a logout token names: those of provider session `sid` when it
    /// says one, else every session of `sub`. Returns how many were forgotten.
    pub fn end_logins(&self, sub: Option<&str>, sid: Option<&str>) -> usize {
        let mut entries = self.entries();
        let before = entries.len();
        entries.retain(|_, e| {
            let Some((s, session_sid)) = &e.login else {
                return true;
            };
            let named = match sid {
                Some(sid) => session_sid.as_deref() == Some(sid) && sub.is_none_or(|u| u == s),
                None => sub == Some(s.as_str()),
            };
            !named
        });
        before - entries.len()
    }
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The `Set-Cookie` value carrying session `id`.
pub fn set_cookie(config: &Config, id: &str) -> HeaderValue {
    let secure = if config.https() { "; Secure" } else { "" };
    let value = format!(
        "{}={id}; Path=/; HttpOnly; SameSite=Lax{secure}",
        config.cookie_name()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that deletes the session cookie.
pub fn clear_cookie(config: &Config) -> HeaderValue {
    let secure = if config.https() { "; Secure" } else { "" };
    let value = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
        config.cookie_name()
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> Config {
        Config::from_lookup(|k| match k {
            "RP_CLIENT_SECRET" => Some("s".into()),
            "RP_BASE_URL" => Some(base.into()),
            _ => None,
        })
        .expect("config")
    }

    #[test]
    fn session_ids_are_256_random_bits() {
        let a = random_token();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).expect("b64").len(), 32);
        assert_ne!(a, random_token());
    }

    #[test]
    fn cookies_are_host_prefixed_and_secure_only_over_https() {
        let https = set_cookie(&config("https://ceres.example"), "abc");
        let https = https.to_str().expect("ascii");
        assert!(https.starts_with("__Host-ceres_session=abc;"));
        for part in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(https.contains(part), "{https}");
        }
        let http = set_cookie(&config("http://localhost:8081"), "abc");
        let http = http.to_str().expect("ascii");
        assert!(http.starts_with("ceres_session=abc;"));
        assert!(!http.contains("Secure"));
    }

    #[tokio::test]
    async fn a_session_is_found_by_its_cookie_and_checks_its_csrf_token() {
        let config = config("http://localhost:8081");
        let store = SessionStore::default();
        let handle = store.create();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; ceres_session={}", handle.id)).expect("h"),
        );
        let found = store.find(&config, &headers).expect("found");
        let session = found.session.lock().await;
        assert!(session.csrf_ok(&session.csrf.clone()));
        assert!(!session.csrf_ok("nope"));
        assert!(!session.csrf_ok(""));
        drop(session);
        let rotated = store.rotate(&found, "u1", Some("sid-1".into()));
        assert!(store.find(&config, &headers).is_none());
        store.remove(&rotated.id);
    }

    #[test]
    fn a_logout_token_ends_the_sessions_it_names_only() {
        let store = SessionStore::default();
        let a = store.rotate(&store.create(), "u1", Some("s1".into()));
        let b = store.rotate(&store.create(), "u1", Some("s2".into()));
        let c = store.rotate(&store.create(), "u2", Some("s3".into()));
        assert_eq!(store.end_logins(Some("u1"), Some("s1")), 1);
        assert_eq!(
            store.end_logins(Some("u2"), Some("s2")),
            0,
            "sid of another person"
        );
        assert_eq!(store.end_logins(Some("u1"), None), 1);
        let left: Vec<_> = store.entries().keys().cloned().collect();
        assert_eq!(left, std::slice::from_ref(&c.id));
        assert!(![a.id, b.id].iter().any(|id| left.contains(id)));
    }
}
