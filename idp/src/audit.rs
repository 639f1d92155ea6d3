//! The audit trail: who did what to what, and when. Append-only.
//!
//! An event is written in the transaction of the change it records ([`record`]): a change that
//! rolls back leaves no event, and no change commits without its event. An event that records no
//! change (a refusal, a look-up) stands alone ([`record_alone`]).

use crate::store::Db;

/// Appends an event inside the caller's transaction, at `at` (the action's clock). `actor` is a
/// user id, a client id, `cli`, `scheduler` or `system`; `details` never holds a secret.
pub async fn record(
    conn: &mut sqlx::AnyConnection,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_events (id, at, actor, action, target, details) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(at)
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(details.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends an event that records no change of its own (a refusal, a look-up): one row, its own
/// transaction.
pub async fn record_alone(
    db: &Db,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    record(&mut tx, at, actor, action, target, details).await?;
    tx.commit().await
}

/// One audit event.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
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
    sqlx::query_as(
        "SELECT at, actor, action, target, details FROM audit_events ORDER BY at DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// An event with its actor's name, for the agents' pages.
#[derive(Debug, Clone)]
pub struct NamedEvent {
    /// The event.
    pub event: AuditEvent,
    /// « Alice Martin » when the actor is an account that still exists.
    pub actor_name: Option<String>,
}

/// The latest `limit` events about an establishment: those whose target is the SIRET or
/// whose details name it (`"siret":"…"`, as every access event records it), newest first.
/// `siret` must be a parsed SIRET (digits only), so it needs no escaping in the pattern.
pub async fn for_establishment(
    db: &Db,
    siret: &crate::organizations::Siret,
    limit: i64,
) -> Result<Vec<NamedEvent>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        event: AuditEvent,
        given_name: Option<String>,
        family_name: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.at, a.actor, a.action, a.target, a.details, u.given_name, u.family_name \
         FROM audit_events a LEFT JOIN users u ON u.id = a.actor \
         WHERE a.target = $1 OR a.details LIKE $2 ORDER BY a.at DESC LIMIT $3",
    )
    .bind(siret.as_str())
    .bind(format!("%\"siret\":\"{}\"%", siret.as_str()))
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| NamedEvent {
            event: r.event,
            actor_name: r
                .given_name
                .zip(r.family_name)
                .map(|(g, f)| format!("{g} {f}").trim().to_owned()),
        })
        .collect())
}

/// Which events an export takes.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// From this instant (seconds, included).
    pub since: i64,
    /// Until this instant (seconds, excluded).
    pub until: i64,
    /// Only those by or about this account (its id).
    pub user: Option<String>,
    /// Only those about this establishment (the target is the SIRET, or the details name it).
    pub establishment: Option<crate::organizations::Siret>,
}

/// The events `filter` takes, oldest first, as a stream: rows come from the database as they
/// are written out, so an export of millions of events holds a handful in memory.
pub fn export<'a>(
    db: &'a Db,
    filter: &ExportFilter,
) -> futures_util::stream::BoxStream<'a, Result<AuditEvent, sqlx::Error>> {
    let mut sql = String::from(
        "SELECT at, actor, action, target, details FROM audit_events WHERE at >= $1 AND at < $2",
    );
    let mut query_args: Vec<String> = Vec::new();
    if let Some(user) = &filter.user {
        query_args.push(user.clone());
        let n = query_args.len() + 2;
        sql.push_str(&format!(" AND (actor = ${n} OR target = ${n})"));
    }
    if let Some(siret) = &filter.establishment {
        query_args.push(siret.as_str().to_owned());
        query_args.push(format!("%\"siret\":\"{}\"%", siret.as_str()));
        let (t, d) = (query_args.len() + 1, query_args.len() + 2);
        sql.push_str(&format!(" AND (target = ${t} OR details LIKE ${d})"));
    }
    sql.push_str(" ORDER BY at, id");
    let mut query = sqlx::query_as::<_, AuditEvent>(sqlx::AssertSqlSafe(sql))
        .bind(filter.since)
        .bind(filter.until);
    for arg in query_args {
        query = query.bind(arg);
    }
    query.fetch(&db.pool)
}
