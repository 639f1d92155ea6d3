//! Grants and the tokens issued under them, in the database.
//!
//! A grant is what a user allowed a client at one authorization; its refresh tokens form one
//! family (each use rotates the token; reusing a spent one revokes the whole grant). Its access
//! tokens name it (`gid`), so revoking the grant lists it in `revoked_tokens` and they stop
//! working too (see [`super::denylist`]).

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::denylist;
use crate::{
    accounts::{UserId, store as users},
    secrets,
    store::{Db, db::Engine, now},
};

/// A grant: one authorization by one user for one client.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Grant {
    /// Id (family id of its refresh tokens).
    pub id: String,
    /// The user.
    pub user_id: String,
    /// The client.
    pub client_id: String,
    /// Granted scope, space-separated.
    pub scope: String,
    /// The `claims` request parameter, if any.
    pub claims: Option<String>,
    /// When the user authenticated.
    pub auth_time: i64,
    /// Level reached.
    pub acr: String,
    /// Methods used.
    pub amr: Vec<String>,
    /// Login session id.
    pub sid: String,
    /// The upstream provider of the login (« AGENT DU MINISTÈRE »), `None` for a local login:
    /// with the account, its agent status ([`crate::access::rules::is_agent`]).
    #[serde(default)]
    pub upstream: Option<String>,
}

/// What a token response writes along with its refresh token, in the same transaction.
#[derive(Debug, Clone, Copy)]
pub enum Issue<'a> {
    /// An authorization code was exchanged: its grant is recorded now.
    NewGrant,
    /// A refresh token was exchanged: it is spent now (rotation).
    Rotation {
        /// The refresh token presented.
        spent: &'a str,
    },
}

/// The refresh token presented had been spent meanwhile (a concurrent reuse).
#[derive(Debug)]
pub struct AlreadySpent;

/// A new grant's row, `$1` to `$11` ([`bind_grant`]).
const INSERT_GRANT: &str = "INSERT INTO grants (id, user_id, client_id, scope, claims, auth_time, acr, amr, sid, created_at, upstream) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// Binds `$1` to `$11` of [`INSERT_GRANT`]: `grant`, made at `t`.
fn bind_grant<'q>(query: AnyQuery<'q>, grant: &'q Grant, t: i64) -> AnyQuery<'q> {
    query
        .bind(&grant.id)
        .bind(&grant.user_id)
        .bind(&grant.client_id)
        .bind(&grant.scope)
        .bind(&grant.claims)
        .bind(grant.auth_time)
        .bind(&grant.acr)
        .bind(serde_json::to_string(&grant.amr).expect("amr serialises"))
        .bind(&grant.sid)
        .bind(t)
        .bind(&grant.upstream)
}

/// Records what a token response changes, in one transaction (one commit): the new grant or
/// the spending of the presented refresh token, and the new refresh token when `refresh_ttl`
/// is given (returned in clear; only its hash is kept). Nothing is written when the presented
/// refresh token was spent already.
pub async fn record_issue(
    db: &Db,
    grant: &Grant,
    issue: Issue<'_>,
    refresh_ttl: Option<u64>,
) -> Result<Result<Option<String>, AlreadySpent>, sqlx::Error> {
    let t = now();
    if db.engine == Engine::Postgres
        && let Some(ttl) = refresh_ttl
    {
        return record_issue_in_one_statement(db, grant, issue, ttl, t).await;
    }
    let successor = refresh_ttl.map(|ttl| {
        let expires_at = t.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX / 2));
        (secrets::random_token(32), expires_at)
    });
    let mut tx = db.begin().await?;
    // SQLite's trigger inserts the successor a spent token names (migrations/sqlite/0023).
    let inserted_by_trigger = match issue {
        Issue::NewGrant => {
            bind_grant(sqlx::query(INSERT_GRANT), grant, t)
                .execute(&mut *tx)
                .await?;
            false
        }
        Issue::Rotation { spent } => {
            let done = sqlx::query(
                "UPDATE refresh_tokens SET used_at = $1, successor_hash = $2, successor_expires_at = $3 \
                 WHERE token_hash = $4 AND used_at IS NULL",
            )
            .bind(t)
            .bind(successor.as_ref().map(|(token, _)| secrets::hash(token)))
            .bind(successor.as_ref().map(|(_, expires_at)| *expires_at))
            .bind(secrets::hash(spent))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() != 1 {
                return Ok(Err(AlreadySpent));
            }
            db.engine == Engine::Sqlite
        }
    };
    if let Some((token, expires_at)) = &successor
        && !inserted_by_trigger
    {
        sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(secrets::hash(token))
            .bind(&grant.id)
            .bind(t)
            .bind(*expires_at)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Ok(successor.map(|(token, _)| token)))
}

const GRANT_COLUMNS: &str =
    "g.id, g.user_id, g.client_id, g.scope, g.claims, g.auth_time, g.acr, g.amr, g.sid, g.upstream";

fn grant_from_row(r: &sqlx::any::AnyRow) -> Result<Grant, sqlx::Error> {
    grant_from_columns(r, "")
}

/// A grant's columns named `grant_*`, to read beside an account's [`users::COLUMNS`] (whose
/// `id` would clash): `SELECT … FROM users JOIN ({GRANT_AS} WHERE …) g ON …`.
const GRANT_AS: &str = "SELECT id AS grant_id, user_id AS grant_user_id, client_id AS grant_client_id, \
     scope AS grant_scope, claims AS grant_claims, auth_time AS grant_auth_time, acr AS grant_acr, \
     amr AS grant_amr, sid AS grant_sid, upstream AS grant_upstream FROM grants";

/// A grant from the columns named `{prefix}id`, `{prefix}user_id`…
fn grant_from_columns(r: &sqlx::any::AnyRow, prefix: &str) -> Result<Grant, sqlx::Error> {
    let get = |name: &str| format!("{prefix}{name}");
    Ok(Grant {
        id: r.try_get(get("id").as_str())?,
        user_id: r.try_get(get("user_id").as_str())?,
        client_id: r.try_get(get("client_id").as_str())?,
        scope: r.try_get(get("scope").as_str())?,
        claims: r.try_get(get("claims").as_str())?,
        auth_time: r.try_get(get("auth_time").as_str())?,
        acr: r.try_get(get("acr").as_str())?,
        amr: serde_json::from_str(&r.try_get::<String, _>(get("amr").as_str())?)
            .unwrap_or_default(),
        sid: r.try_get(get("sid").as_str())?,
        upstream: r.try_get(get("upstream").as_str())?,
    })
}

/// A refresh token spent and replaced by [`rotate`].
#[derive(Debug)]
pub struct Rotated {
    /// Its grant, live.
    pub grant: Grant,
    /// The grant's account (its standing is the caller's to check).
    pub user: users::User,
    /// The successor, in clear (only its hash is kept).
    pub refresh_token: String,
}

/// Spends the refresh token `token` of `client_id` at `t` (the provider's clock) and records
/// its successor, valid `ttl` seconds, reading its grant and account: on PostgreSQL in one
/// statement (one round trip instead of three: the token and grant, the account, the
/// rotation), on SQLite in one read and one write statement (its trigger inserts the
/// successor). Only a token that is live, unspent and the client's is spent; of two concurrent
/// presentations one rotates and the other is refused (the row lock, or SQLite's single
/// writer), which the caller then finds spent: reuse detection stays exact.
///
/// `None`, changing nothing, when the token is unknown, spent, expired, another client's, or its
/// grant was revoked: the caller reads it ([`refresh_token`]) to say which, and to end the
/// family of a spent one.
pub async fn rotate(
    db: &Db,
    token: &str,
    client_id: &str,
    ttl: u64,
    t: i64,
) -> Result<Option<Rotated>, sqlx::Error> {
    let next = secrets::random_token(32);
    let expires_at = t.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX / 2));
    let columns = users::COLUMNS;
    let row = if db.engine == Engine::Postgres {
        let sql = format!(
            "WITH spent AS (UPDATE refresh_tokens SET used_at = $1, successor_hash = $4, \
             successor_expires_at = $5 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             AND grant_id IN (SELECT id FROM grants WHERE client_id = $3 AND revoked_at IS NULL) \
             RETURNING grant_id), \
             next AS (INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) \
             SELECT $4, grant_id, $1, $5 FROM spent) \
             SELECT {columns}, g.* FROM users \
             JOIN ({GRANT_AS} WHERE id IN (SELECT grant_id FROM spent)) g ON users.id = g.grant_user_id"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t)
            .bind(secrets::hash(token))
            .bind(client_id)
            .bind(secrets::hash(&next))
            .bind(expires_at)
            .fetch_optional(&db.pool)
            .await?
    } else {
        // SQLite: the read first, outside the single writer's turn (requests' reads go on
        // while another writes; measured, reading inside it was slower), then the rotation,
        // which spends the token only if it is still unspent.
        let sql = format!(
            "SELECT {columns}, g.* FROM users \
             JOIN ({GRANT_AS} WHERE id = (SELECT grant_id FROM refresh_tokens \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2) \
             AND client_id = $3 AND revoked_at IS NULL) g ON users.id = g.grant_user_id"
        );
        let hash = secrets::hash(token);
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&hash)
            .bind(t)
            .bind(client_id)
            .fetch_optional(&db.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let grant_id: String = row.try_get("grant_id")?;
        // One statement: the token spent names its successor, which the schema's trigger
        // inserts (migrations/sqlite/0023). The grant is checked again: revoked between the
        // read and this turn, nothing is spent.
        let turn = db.write_turn().await;
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1, successor_hash = $2, successor_expires_at = $3 \
             WHERE token_hash = $4 AND used_at IS NULL \
             AND EXISTS (SELECT 1 FROM grants WHERE id = $5 AND revoked_at IS NULL)",
        )
        .bind(t)
        .bind(secrets::hash(&next))
        .bind(expires_at)
        .bind(&hash)
        .bind(&grant_id)
        .execute(&db.pool)
        .await?;
        drop(turn);
        if spent.rows_affected() != 1 {
            return Ok(None);
        }
        Some(row)
    };
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Rotated {
        grant: grant_from_columns(&row, "grant_")?,
        user: users::from_row(&row)?,
        refresh_token: next,
    }))
}

/// [`record_issue`] on PostgreSQL: the two writes as one statement (a data-modifying `WITH`),
/// atomic on its own, so one round trip instead of four (`BEGIN`, two writes, `COMMIT`). A
/// refresh token spent meanwhile makes the `UPDATE` match nothing (it waits for the other
/// transaction's row lock, then sees `used_at` set), so nothing is inserted.
async fn record_issue_in_one_statement(
    db: &Db,
    grant: &Grant,
    issue: Issue<'_>,
    ttl: u64,
    t: i64,
) -> Result<Result<Option<String>, AlreadySpent>, sqlx::Error> {
    let token = secrets::random_token(32);
    let expires_at = t.saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX / 2));
    let done = match issue {
        Issue::NewGrant => {
            let sql = format!(
                "WITH g AS ({INSERT_GRANT} RETURNING id) \
                 INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) SELECT $12, id, $10, $13 FROM g"
            );
            bind_grant(sqlx::query(sqlx::AssertSqlSafe(sql)), grant, t)
            .bind(secrets::hash(&token))
            .bind(expires_at)
            .execute(&db.pool)
            .await?
        }
        Issue::Rotation { spent } => {
            sqlx::query(
                "WITH spent AS (UPDATE refresh_tokens SET used_at = $1, successor_hash = $3, successor_expires_at = $4 \
                 WHERE token_hash = $2 AND used_at IS NULL RETURNING grant_id) \
                 INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) SELECT $3, grant_id, $1, $4 FROM spent",
            )
            .bind(t)
            .bind(secrets::hash(spent))
            .bind(secrets::hash(&token))
            .bind(expires_at)
            .execute(&db.pool)
            .await?
        }
    };
    if done.rows_affected() != 1 {
        return Ok(Err(AlreadySpent));
    }
    Ok(Ok(Some(token)))
}

/// A live (not revoked) grant by id.
pub async fn live_grant(db: &Db, id: &str) -> Result<Option<Grant>, sqlx::Error> {
    let sql =
        format!("SELECT {GRANT_COLUMNS} FROM grants g WHERE g.id = $1 AND g.revoked_at IS NULL");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(grant_from_row)
        .transpose()
}

/// What a user access token needs at userinfo: the account, and the grant the token names
/// (its `claims` request and upstream) while it is live, read in one query.
pub async fn user_with_live_grant(
    db: &Db,
    id: &str,
    grant_id: Option<&str>,
) -> Result<Option<(users::User, Option<LiveGrantClaims>)>, sqlx::Error> {
    let columns = users::COLUMNS;
    let sql = format!(
        "SELECT {columns}, g.grant_id, g.claims AS grant_claims, g.upstream AS grant_upstream \
         FROM users LEFT JOIN (SELECT id AS grant_id, claims, upstream FROM grants \
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL) g ON 1 = 1 WHERE users.id = $3"
    );
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(grant_id.unwrap_or_default())
        .bind(id)
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(None);
    };
    let grant = match row.try_get::<Option<String>, _>("grant_id")? {
        Some(_) => Some(LiveGrantClaims {
            claims: row.try_get("grant_claims")?,
            upstream: row.try_get("grant_upstream")?,
        }),
        None => None,
    };
    Ok(Some((users::from_row(&row)?, grant)))
}

/// What userinfo reads of a live grant ([`user_with_live_grant`]).
#[derive(Debug, Clone)]
pub struct LiveGrantClaims {
    /// The `claims` request parameter of its authorization.
    pub claims: Option<String>,
    /// The upstream provider of its login.
    pub upstream: Option<String>,
}

/// Lists a revocation until `until`; a later revocation of the same key extends it.
async fn list_revoked(
    conn: &mut sqlx::AnyConnection,
    key: &str,
    until: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO revoked_tokens (key, until) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET until = excluded.until",
    )
    .bind(key)
    .bind(until)
    .execute(conn)
    .await?;
    Ok(())
}

/// Revokes a grant: its refresh tokens and its access tokens stop working. Access tokens
/// live `access_ttl` at most, so the grant is listed that long (the node's list must be
/// told afterwards: [`denylist::DenyList::changed`]). `why` is recorded in the same
/// transaction (a client's revocation, a reuse detected).
pub async fn revoke_grant(
    db: &Db,
    id: &str,
    access_ttl: u64,
    why: crate::action::Event,
) -> Result<(), sqlx::Error> {
    let t = now();
    let mut tx = db.begin().await?;
    why.record_in(&mut tx, t).await?;
    sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(t)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    list_revoked(
        &mut tx,
        &denylist::grant_key(id),
        listed_until(t, access_ttl),
    )
    .await?;
    tx.commit().await
}

/// Until when a revocation made at `t` must be listed: the longest an access token issued
/// before `t` can live, plus the verification leeway.
pub fn listed_until(t: i64, access_ttl: u64) -> i64 {
    t.saturating_add(i64::try_from(access_ttl).unwrap_or(i64::MAX / 2))
        .saturating_add(60)
}

/// Revokes every live grant of a user, in a transaction of its own (the accounts actions call
/// [`revoke_user_grants_in`] inside theirs).
pub async fn revoke_user_grants(
    db: &Db,
    user_id: &str,
    access_ttl: u64,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    let user = UserId::from_stored(user_id);
    revoke_user_grants_in(&mut tx, &user, now(), access_ttl).await?;
    tx.commit().await
}

/// Revokes every live grant of a user at `now`, inside the caller's transaction (password
/// reset, password change). Nodes' revocation lists must be told after the commit.
pub async fn revoke_user_grants_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    now: i64,
    access_ttl: u64,
) -> Result<(), sqlx::Error> {
    let ids: Vec<String> =
        sqlx::query("SELECT id FROM grants WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user.as_str())
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
    let until = listed_until(now, access_ttl);
    for id in ids {
        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        list_revoked(&mut *conn, &denylist::grant_key(&id), until).await?;
    }
    Ok(())
}

/// The sessions of `user` that still have a live grant, as back-channel logout names them:
/// what an operator ends from a process that cannot read the sessions themselves (the command
/// line on an embedded installation keeps them in the server's memory).
pub async fn live_sessions_in(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
) -> Result<Vec<crate::oidc::backchannel::EndedSession>, sqlx::Error> {
    sqlx::query(
        "SELECT DISTINCT sid FROM grants WHERE user_id = $1 AND revoked_at IS NULL ORDER BY sid",
    )
    .bind(user.as_str())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        Ok(crate::oidc::backchannel::EndedSession {
            user_id: user.as_str().to_owned(),
            sid: r.try_get("sid")?,
        })
    })
    .collect()
}

/// Deletes everything the OIDC domain holds about a user, inside the caller's transaction
/// (account deletion): its live grants are revoked (listed for as long as their access tokens
/// can live; revoked ones were listed when revoked), then its refresh tokens, grants and
/// consents go. Nodes' revocation lists must be told after the commit.
pub async fn delete_for_user(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    now: i64,
    access_ttl: u64,
) -> Result<(), sqlx::Error> {
    revoke_user_grants_in(&mut *conn, user, now, access_ttl).await?;
    for sql in [
        "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE user_id = $1)",
        "DELETE FROM grants WHERE user_id = $1",
        "DELETE FROM consents WHERE user_id = $1",
    ] {
        sqlx::query(sql)
            .bind(user.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A refresh token as stored.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// Its grant.
    pub grant_id: String,
    /// Issued at.
    pub created_at: i64,
    /// Expires at.
    pub expires_at: i64,
    /// When it was exchanged, if it was.
    pub used_at: Option<i64>,
}

/// Looks a refresh token up by its clear value, with its grant while that is live, in one
/// query (a refresh, an introspection, a revocation).
pub async fn refresh_token(
    db: &Db,
    token: &str,
) -> Result<Option<(RefreshToken, Option<Grant>)>, sqlx::Error> {
    let sql = format!(
        "SELECT r.grant_id AS token_grant_id, r.created_at AS token_created_at, r.expires_at AS token_expires_at, r.used_at AS token_used_at, {GRANT_COLUMNS} \
         FROM refresh_tokens r LEFT JOIN grants g ON g.id = r.grant_id AND g.revoked_at IS NULL \
         WHERE r.token_hash = $1"
    );
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(secrets::hash(token))
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(None);
    };
    let stored = RefreshToken {
        grant_id: row.try_get("token_grant_id")?,
        created_at: row.try_get("token_created_at")?,
        expires_at: row.try_get("token_expires_at")?,
        used_at: row.try_get("token_used_at")?,
    };
    let grant = match row.try_get::<Option<String>, _>("id")? {
        Some(_) => Some(grant_from_row(&row)?),
        None => None,
    };
    Ok(Some((stored, grant)))
}

/// Revokes one access token, listed until it expires.
pub async fn revoke_access_token(db: &Db, jti: &str, expires_at: i64) -> Result<(), sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    list_revoked(
        &mut conn,
        &denylist::jti_key(jti),
        expires_at.saturating_add(60),
    )
    .await
}

/// Scopes the user already consented to for the client.
pub async fn consented_scopes(
    db: &Db,
    user_id: &str,
    client_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let row = sqlx::query("SELECT scopes FROM consents WHERE user_id = $1 AND client_id = $2")
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(&db.pool)
        .await?;
    Ok(match row {
        Some(r) => r
            .try_get::<String, _>("scopes")?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    })
}

/// Records consent to `scopes` (merged with earlier consent) with its audit event
/// (`consent.granted`), in one transaction.
pub async fn record_consent(
    db: &Db,
    user_id: &str,
    client_id: &str,
    scopes: &[String],
) -> Result<(), sqlx::Error> {
    let mut all = consented_scopes(db, user_id, client_id).await?;
    for s in scopes {
        if !all.contains(s) {
            all.push(s.clone());
        }
    }
    let at = now();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(all.join(" "))
    .bind(at)
    .execute(&mut *tx)
    .await?;
    crate::action::Event::new(user_id, "consent.granted", user_id)
        .with(serde_json::json!({ "client_id": client_id, "scopes": scopes }))
        .record_in(&mut tx, at)
        .await?;
    tx.commit().await
}
