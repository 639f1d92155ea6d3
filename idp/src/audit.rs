//! The audit trail: who did what to what, and when. Append-only.

use crate::store::{Db, now};

/// Appends an event. `actor` is a user id, a client id, `cli`, `scheduler` or `system`;
/// `details` never holds a secret.
pub async fn record(
    db: &Db,
    actor: &str,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_events (id, at, actor, action, target, details) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(now())
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(details.to_string())
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// One audit event.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEvent {
    /// When (seconds).
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Details, JSON.
    pub details: String,
}

/// The latest `limit` events, newest first.
pub async fn latest(db: &Db, limit: i64) -> Result<Vec<AuditEvent>, sqlx::Error> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT at, actor, action, target, details FROM audit_events ORDER BY at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditEvent {
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                target: r.try_get("target")?,
                details: r.try_get("details")?,
            })
        })
        .collect()
}
