//! OpenID Connect Back-Channel Logout 1.0: when a session ends, each client it logged into
//! that registered a `backchannel_logout_uri` receives a logout token, server to server.
//!
//! Logging out never waits for a client: the logout queues one row per client
//! (`logout_deliveries`, in the transaction of `oidc::actions::logout_queue`) and every
//! node's worker ([`run`]) posts the due rows. A row is claimed by a conditional UPDATE before
//! its POST, so two nodes never deliver it at once; a failed POST is tried again later (the
//! wait doubles each time) and, after `backchannel_logout.max_attempts`, given up: logged and
//! audited.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use sqlx::Row;

use super::clients;
use crate::{
    AppState, action::Event, config::BackchannelLogoutConfig, keys::SigningAlg, secrets, store::Db,
};

/// The event a logout token carries (spec §2.4).
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Rows one pass of the worker looks at.
const BATCH: i64 = 50;

/// What posts logout tokens: one HTTP client for all deliveries of this node, and the bell a
/// logout on this node rings so its deliveries go at once rather than at the next poll.
#[derive(Clone)]
pub struct Sender {
    http: reqwest::Client,
    wake: Arc<tokio::sync::Notify>,
}

impl Sender {
    /// A sender whose every POST gives up after `config.timeout_seconds`.
    pub fn new(config: &BackchannelLogoutConfig) -> Self {
        // reqwest uses the process's rustls provider: make sure there is one.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_seconds.max(1)))
            .connect_timeout(Duration::from_secs(config.timeout_seconds.max(1)))
            // A client answers at its registered URI; following it elsewhere would post the
            // token to an address nobody registered.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("EFP Connect")
            .build()
            .unwrap_or_default();
        Self {
            http,
            wake: Arc::default(),
        }
    }

    /// Tells this node's worker that deliveries were queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// An ended session, as logout tells the clients about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedSession {
    /// The account.
    pub user_id: String,
    /// The session's public id (the ID tokens' `sid`).
    pub sid: String,
}

/// The clients that `sid` logged into (a grant under it) and that want to be told.
pub async fn clients_to_tell_in(
    conn: &mut sqlx::AnyConnection,
    ended: &EndedSession,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(
        "SELECT DISTINCT g.client_id FROM grants g JOIN clients c ON c.client_id = g.client_id \
         WHERE g.sid = $1 AND g.user_id = $2 AND c.backchannel_logout_uri IS NOT NULL \
         ORDER BY g.client_id",
    )
    .bind(&ended.sid)
    .bind(&ended.user_id)
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| r.try_get("client_id"))
    .collect()
}

/// Queues the logout token of `ended` for `client_id`, due at `at`.
pub async fn enqueue_in(
    conn: &mut sqlx::AnyConnection,
    ended: &EndedSession,
    client_id: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO logout_deliveries (jti, client_id, sub, sid, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(secrets::random_token(16))
    .bind(client_id)
    .bind(&ended.user_id)
    .bind(&ended.sid)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A queued logout token.
#[derive(Debug)]
struct Delivery {
    jti: String,
    client_id: String,
    sub: String,
    sid: String,
    attempts: i64,
}

/// The logout token of `d` for its client, signed now with the current RS256 key: no nonce
/// (§2.4), `typ` `logout+jwt` so it cannot pass for an ID token. `sid` is always there, whatever
/// the client's `backchannel_logout_session_required`: every session has one, so a client that
/// requires it is satisfied and the others may end only the session named.
fn logout_token(state: &AppState, d: &Delivery, iat: i64) -> Option<String> {
    let signer = state.keys.current().signer(SigningAlg::RS256)?;
    let ttl = i64::try_from(state.config.backchannel_logout.token_ttl_seconds).unwrap_or(120);
    let claims = json!({
        "iss": state.config.issuer,
        "aud": d.client_id,
        "iat": iat,
        "exp": iat + ttl,
        "jti": d.jti,
        "sub": d.sub,
        "sid": d.sid,
        "events": { LOGOUT_EVENT: {} },
    });
    Some(signer.sign("logout+jwt", &claims))
}

/// Rows due at `now` and not claimed by another node.
async fn due(db: &Db, now: i64) -> Result<Vec<Delivery>, sqlx::Error> {
    sqlx::query(
        "SELECT jti, client_id, sub, sid, attempts FROM logout_deliveries \
         WHERE next_attempt_at <= $1 AND claimed_until <= $1 ORDER BY next_attempt_at LIMIT $2",
    )
    .bind(now)
    .bind(BATCH)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok(Delivery {
            jti: r.try_get("jti")?,
            client_id: r.try_get("client_id")?,
            sub: r.try_get("sub")?,
            sid: r.try_get("sid")?,
            attempts: r.try_get("attempts")?,
        })
    })
    .collect()
}

/// Claims a due row until `until`; `false` when another node got it first.
async fn claim(db: &Db, jti: &str, now: i64, until: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE logout_deliveries SET claimed_until = $1 \
         WHERE jti = $2 AND claimed_until <= $3 AND next_attempt_at <= $3",
    )
    .bind(until)
    .bind(jti)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Posts `token` to `uri`; `Err` says why the attempt failed (no secret in it).
async fn post(sender: &Sender, uri: &str, token: &str) -> Result<(), String> {
    let response = sender
        .http
        .post(uri)
        .form(&[("logout_token", token)])
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "timeout".to_owned()
            } else {
                "connexion impossible".to_owned()
            }
        })?;
    let status = response.status();
    // §2.8: 200 (or 204) is success; anything else failed.
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", status.as_u16()))
    }
}

/// The wait before attempt `attempts + 1`: `retry_seconds`, doubled at each further attempt.
pub fn backoff(config: &BackchannelLogoutConfig, attempts: i64) -> i64 {
    let base = i64::try_from(config.retry_seconds).unwrap_or(30);
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 16)).unwrap_or(16);
    base.saturating_mul(1 << doublings)
}

/// Delivers the logout tokens due now; returns how many were delivered. Each is claimed
/// first, so nodes running this at once share the rows instead of posting them twice.
pub async fn deliver_due(state: &AppState) -> Result<usize, sqlx::Error> {
    let config = &state.config.backchannel_logout;
    let now = state.clock.now();
    let lease = i64::try_from(config.timeout_seconds.saturating_mul(2)).unwrap_or(60) + 30;
    let mut delivered = 0;
    for d in due(&state.db, now).await? {
        if !claim(&state.db, &d.jti, now, now + lease).await? {
            continue;
        }
        // Read afresh, not from the cache: a URI just changed or removed applies at once.
        let uri = clients::client_by_id(&state.db, &d.client_id)
            .await?
            .and_then(|c| c.registration.backchannel_logout_uri);
        let outcome = match (&uri, logout_token(state, &d, now)) {
            (None, _) => Err("plus d'URI de déconnexion enregistrée".to_owned()),
            (_, None) => Err("aucune clé RS256".to_owned()),
            (Some(uri), Some(token)) => post(&state.backchannel, uri, &token).await,
        };
        let attempts = d.attempts + 1;
        match outcome {
            Ok(()) => {
                sqlx::query("DELETE FROM logout_deliveries WHERE jti = $1")
                    .bind(&d.jti)
                    .execute(&state.db.pool)
                    .await?;
                tracing::info!(client.id = %d.client_id, attempts, "logout token delivered");
                delivered += 1;
            }
            Err(reason) if uri.is_none() || attempts >= i64::from(config.max_attempts) => {
                give_up(state, &d, attempts, &reason, now).await?;
            }
            Err(reason) => {
                tracing::info!(client.id = %d.client_id, attempts, reason, "logout token not delivered; will retry");
                sqlx::query(
                    "UPDATE logout_deliveries SET attempts = $1, next_attempt_at = $2, claimed_until = 0 WHERE jti = $3",
                )
                .bind(attempts)
                .bind(now + backoff(config, attempts))
                .bind(&d.jti)
                .execute(&state.db.pool)
                .await?;
            }
        }
    }
    Ok(delivered)
}

/// Drops a delivery that will not succeed, with its audit event, in one transaction.
async fn give_up(
    state: &AppState,
    d: &Delivery,
    attempts: i64,
    reason: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    tracing::warn!(client.id = %d.client_id, attempts, reason, "logout token given up");
    crate::action::in_one_transaction(&state.db, now, async |tx| {
        sqlx::query("DELETE FROM logout_deliveries WHERE jti = $1")
            .bind(&d.jti)
            .execute(&mut *tx)
            .await?;
        let event = Event::new("system", "backchannel_logout.abandoned", &d.client_id)
            .with(json!({ "user_id": d.sub, "attempts": attempts, "reason": reason }));
        Ok::<_, sqlx::Error>(((), event))
    })
    .await
}

/// This node's worker: delivers what is due every `poll_seconds`, and at once when a logout
/// on this node rings.
pub async fn run(state: AppState) {
    let poll = Duration::from_secs(state.config.backchannel_logout.poll_seconds.max(1));
    loop {
        if let Err(e) = deliver_due(&state).await {
            tracing::error!(error.message = %e, "logout token delivery failed");
        }
        let _ = tokio::time::timeout(poll, state.backchannel.wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_between_attempts_doubles() {
        let config = BackchannelLogoutConfig {
            retry_seconds: 30,
            ..BackchannelLogoutConfig::default()
        };
        let waits: Vec<_> = (1..=5).map(|a| backoff(&config, a)).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480]);
        assert!(backoff(&config, i64::MAX) > 0, "no overflow");
    }
}
