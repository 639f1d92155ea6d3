//! The janitor: what has expired leaves the database, so tables do not grow forever
//! (docs/operations.md, « Retention »). Each rule says, in one place, when a row of its table is
//! past its use; rows go in batches of `retention.batch_size` (one statement each: no long
//! lock), every run records `retention.purged` with its counts and feeds the
//! `idp_purged_rows_total` metric. `idp serve` runs it every `retention.interval_seconds` on
//! the one node that takes the turn in the shared store; `idp purge [--dry-run]` runs it at once.
//!
//! Sessions, pending logins, codes sent by e-mail and rate-limit counters live in the shared
//! store with their own expiry: nothing to purge there.

use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use crate::{
    audit,
    config::Config,
    store::{Db, Ephemeral, ephemeral::EphemeralError},
};

const DAY: i64 = 86_400;

/// The instants a run measures ages against.
struct Cutoffs {
    now: i64,
    /// Before this, history goes (`retention.history_days`).
    history: i64,
    /// Before this, no token or session of a grant can still be alive.
    live: i64,
}

impl Cutoffs {
    fn at(config: &Config, now: i64) -> Self {
        let days = i64::try_from(config.retention.history_days).unwrap_or(365);
        let t = &config.tokens;
        let longest = t
            .access_token_ttl_seconds
            .max(t.id_token_ttl_seconds)
            .max(config.session.ttl_seconds);
        Self {
            now,
            history: now - days * DAY,
            // The verification leeway on top, as the revocation list keeps it.
            live: now - i64::try_from(longest).unwrap_or(i64::MAX / 4) - 60,
        }
    }
}

/// One table's rule: rows whose `condition` holds (`$1`: the rule's cutoff, `$2`: now) go,
/// found by their `key`.
struct Rule {
    table: &'static str,
    key: &'static str,
    condition: &'static str,
    cutoff: fn(&Cutoffs) -> i64,
}

const RULES: &[Rule] = &[
    // A refresh token past its life: spent or not, it can no longer be presented (reuse of a
    // spent one is detected until then).
    Rule {
        table: "refresh_tokens",
        key: "token_hash",
        condition: "expires_at < $1",
        cutoff: |c| c.now,
    },
    // A revocation no token it names can outlive.
    Rule {
        table: "revoked_tokens",
        key: "key",
        condition: "until < $1",
        cutoff: |c| c.now,
    },
    // A grant no token or session can still use: revoked, or without a live refresh token,
    // longer ago than any access token, ID token or session lives (back-channel logout finds a
    // session's clients through its grants). Its refresh tokens go with it.
    Rule {
        table: "grants",
        key: "id",
        condition: "COALESCE(revoked_at, created_at) < $1 AND NOT EXISTS \
                    (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.id AND r.expires_at >= $2)",
        cutoff: |c| c.live,
    },
    // History: the audit trail, decided access requests, closed activation codes, invitations
    // accepted or expired, after `retention.history_days`.
    Rule {
        table: "audit_events",
        key: "id",
        condition: "at < $1",
        cutoff: |c| c.history,
    },
    Rule {
        table: "access_requests",
        key: "id",
        condition: "status <> 'pending' AND COALESCE(handled_at, created_at) < $1",
        cutoff: |c| c.history,
    },
    Rule {
        table: "activation_codes",
        key: "id",
        condition: "COALESCE(redeemed_at, revoked_at, expires_at) < $1",
        cutoff: |c| c.history,
    },
    Rule {
        table: "invitations",
        key: "id",
        condition: "COALESCE(accepted_at, expires_at) < $1",
        cutoff: |c| c.history,
    },
];

/// What a run removed (or, dry, would remove), by table; `outbox_files` for the local outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    /// Rows by table, in the order of the rules.
    pub tables: Vec<(&'static str, u64)>,
    /// Messages of the local outbox.
    pub outbox_files: u64,
}

impl Purged {
    /// Everything removed.
    pub fn total(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum::<u64>() + self.outbox_files
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    /// The database.
    #[error("base de données : {0}")]
    Db(#[from] sqlx::Error),
    /// The outbox folder.
    #[error("boîte d'envoi locale : {0}")]
    Outbox(#[from] std::io::Error),
    /// The shared store (the turn between nodes).
    #[error(transparent)]
    Store(#[from] EphemeralError),
}

/// Removes what has expired at `now` (or counts it, `dry`), rule after rule, in batches;
/// records `retention.purged` as `actor` when anything went.
pub async fn purge(
    db: &Db,
    config: &Config,
    now: i64,
    dry: bool,
    actor: &str,
) -> Result<Purged, PurgeError> {
    let cutoffs = Cutoffs::at(config, now);
    let batch = i64::try_from(config.retention.batch_size.max(1)).unwrap_or(500);
    let mut purged = Purged::default();
    for rule in RULES {
        let cutoff = (rule.cutoff)(&cutoffs);
        let (table, key, condition) = (rule.table, rule.key, rule.condition);
        let removed = if dry {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}");
            let n: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(cutoff)
                .bind(now)
                .fetch_one(&db.pool)
                .await?
                .try_get("n")?;
            u64::try_from(n).unwrap_or(0)
        } else {
            let sql = format!(
                "DELETE FROM {table} WHERE {key} IN \
                 (SELECT {key} FROM {table} WHERE {condition} LIMIT $3)"
            );
            let mut removed = 0;
            loop {
                let mut tx = db.begin().await?;
                let done = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                    .bind(cutoff)
                    .bind(now)
                    .bind(batch)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                tx.commit().await?;
                removed += done;
                if done < u64::try_from(batch).unwrap_or(0) {
                    break;
                }
            }
            crate::metrics::purged(table, removed);
            removed
        };
        purged.tables.push((table, removed));
    }
    if config.mail.transport == crate::config::MailTransport::Outbox {
        let days = i64::try_from(config.retention.outbox_days).unwrap_or(7);
        let before_ms = (now - days * DAY) * 1000;
        purged.outbox_files =
            crate::mail::outbox::purge_older_than(&config.mail.outbox_dir, before_ms, dry)?;
        if !dry {
            crate::metrics::purged("outbox", purged.outbox_files);
        }
    }
    if !dry && purged.total() > 0 {
        let details = serde_json::json!({
            "tables": purged.tables.iter().map(|(t, n)| (t.to_string(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
            "outbox_files": purged.outbox_files,
        });
        audit::record_alone(db, now, actor, "retention.purged", "database", details).await?;
    }
    Ok(purged)
}

/// The shared store's key of the janitor's turn.
const TURN: &str = "lease:retention";

/// One scheduled run on this node, if it takes the turn: the first node to ask in an interval
/// runs it, the others skip (the turn lasts the interval).
pub async fn scheduled(
    db: &Db,
    ephemeral: &Ephemeral,
    config: &Config,
    now: i64,
    node_id: &str,
) -> Result<Option<Purged>, PurgeError> {
    let interval = Duration::from_secs(config.retention.interval_seconds.max(1));
    if !ephemeral.put_if_absent(TURN, node_id, interval).await? {
        return Ok(None);
    }
    let purged = purge(db, config, now, false, "scheduler").await?;
    tracing::info!(
        retention.removed = purged.total(),
        retention.tables = ?purged.tables,
        retention.outbox_files = purged.outbox_files,
        "retention run"
    );
    Ok(Some(purged))
}
