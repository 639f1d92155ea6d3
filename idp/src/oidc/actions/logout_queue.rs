//! Queue the logout tokens of ended sessions (OpenID Connect Back-Channel Logout 1.0).

use serde_json::json;

use crate::{
    AppState,
    action::Event,
    oidc::backchannel::{self, EndedSession},
    store::Db,
};

/// Queues the logout tokens of sessions that just ended and wakes the worker. A failure is
/// logged, never returned: the person's logout goes on whatever the clients' fate.
pub async fn sessions_ended(state: &AppState, ended: &[EndedSession]) {
    if ended.is_empty() {
        return;
    }
    match queue_logout_tokens(&state.db, ended, state.clock.now()).await {
        Ok(0) => {}
        Ok(_) => state.backchannel.wake(),
        Err(e) => tracing::error!(error.message = %e, "logout tokens not queued"),
    }
}

/// Queues, for each ended session, one logout token per client it logged into that registered
/// a `backchannel_logout_uri`, in one transaction of its own (see [`queue_in`]). Returns how
/// many tokens were queued; the worker posts them.
pub async fn queue_logout_tokens(
    db: &Db,
    ended: &[EndedSession],
    now: i64,
) -> Result<usize, sqlx::Error> {
    let mut tx = db.begin().await?;
    let queued = queue_in(&mut tx, ended, now).await?;
    tx.commit().await?;
    Ok(queued)
}

/// Queues the logout tokens of `ended` inside the caller's transaction, with one
/// `session.logout_queued` event per session that had clients to tell (written with
/// [`Event::record_in`]: there can be several). An action that removes the rows these tokens
/// are found from (the grants, at account deletion) calls it first, in its own transaction, so
/// the tokens and the removal commit together. Returns how many tokens were queued; the caller
/// wakes the worker once committed.
pub async fn queue_in(
    conn: &mut sqlx::AnyConnection,
    ended: &[EndedSession],
    now: i64,
) -> Result<usize, sqlx::Error> {
    let mut queued = 0;
    for session in ended {
        let clients = backchannel::clients_to_tell_in(&mut *conn, session).await?;
        if clients.is_empty() {
            continue;
        }
        for client_id in &clients {
            backchannel::enqueue_in(&mut *conn, session, client_id, now).await?;
        }
        queued += clients.len();
        Event::new(&session.user_id, "session.logout_queued", &session.user_id)
            .with(json!({ "clients": clients }))
            .record_in(&mut *conn, now)
            .await?;
    }
    Ok(queued)
}
