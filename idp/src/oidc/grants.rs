//! Grants and the tokens issued under them, in the database.
//!
//! A grant is what a user allowed a client at one authorization; its refresh tokens form one
//! family (each use rotates the token; reusing a spent one revokes the whole grant), and its
//! access tokens are listed by `jti` so that revoking the grant revokes them too.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{
    secrets,
    store::{Db, now},
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
}

/// Records a new grant.
pub async fn insert_grant(db: &Db, grant: &Grant) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO grants (id, user_id, client_id, scope, claims, auth_time, acr, amr, sid, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&grant.id)
    .bind(&grant.user_id)
    .bind(&grant.client_id)
    .bind(&grant.scope)
    .bind(&grant.claims)
    .bind(grant.auth_time)
    .bind(&grant.acr)
    .bind(serde_json::to_string(&grant.amr).expect("amr serialises"))
    .bind(&grant.sid)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// A live (not revoked) grant by id.
pub async fn live_grant(db: &Db, id: &str) -> Result<Option<Grant>, sqlx::Error> {
    let row = sqlx::query("SELECT id, user_id, client_id, scope, claims, auth_time, acr, amr, sid FROM grants WHERE id = $1 AND revoked_at IS NULL")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| {
        Ok(Grant {
            id: r.try_get("id")?,
            user_id: r.try_get("user_id")?,
            client_id: r.try_get("client_id")?,
            scope: r.try_get("scope")?,
            claims: r.try_get("claims")?,
            auth_time: r.try_get("auth_time")?,
            acr: r.try_get("acr")?,
            amr: serde_json::from_str(&r.try_get::<String, _>("amr")?).unwrap_or_default(),
            sid: r.try_get("sid")?,
        })
    })
    .transpose()
}

/// Revokes a grant: its refresh tokens and access tokens stop working.
pub async fn revoke_grant(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    let t = now();
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(t)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE access_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
    )
    .bind(t)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Revokes every grant of a user (password reset, account deletion).
pub async fn revoke_user_grants(db: &Db, user_id: &str) -> Result<(), sqlx::Error> {
    let ids: Vec<String> =
        sqlx::query("SELECT id FROM grants WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .fetch_all(&db.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
    for id in ids {
        revoke_grant(db, &id).await?;
    }
    Ok(())
}

/// Stores a new refresh token of `grant_id`; returns the token (only its hash is kept).
pub async fn issue_refresh_token(
    db: &Db,
    grant_id: &str,
    ttl_seconds: u64,
) -> Result<String, sqlx::Error> {
    let token = secrets::random_token(32);
    let t = now();
    sqlx::query("INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(secrets::hash(&token))
        .bind(grant_id)
        .bind(t)
        .bind(t.saturating_add(i64::try_from(ttl_seconds).unwrap_or(i64::MAX / 2)))
        .execute(&db.pool)
        .await?;
    Ok(token)
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

/// Looks a refresh token up by its clear value.
pub async fn refresh_token(db: &Db, token: &str) -> Result<Option<RefreshToken>, sqlx::Error> {
    let row = sqlx::query("SELECT grant_id, created_at, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1")
        .bind(secrets::hash(token))
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| {
        Ok(RefreshToken {
            grant_id: r.try_get("grant_id")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            used_at: r.try_get("used_at")?,
        })
    })
    .transpose()
}

/// Marks a refresh token spent; `false` if it already was (a concurrent reuse).
pub async fn spend_refresh_token(db: &Db, token: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL",
    )
    .bind(now())
    .bind(secrets::hash(token))
    .execute(&db.pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Records an issued access token so it can be revoked.
pub async fn record_access_token(
    db: &Db,
    jti: &str,
    grant_id: Option<&str>,
    client_id: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO access_tokens (jti, grant_id, client_id, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(jti)
    .bind(grant_id)
    .bind(client_id)
    .bind(expires_at)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Whether the access token `jti` is still good: recorded, not revoked, and its grant live.
pub async fn access_token_live(db: &Db, jti: &str) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT a.revoked_at AS a_revoked, g.revoked_at AS g_revoked, a.grant_id AS grant_id FROM access_tokens a LEFT JOIN grants g ON g.id = a.grant_id WHERE a.jti = $1",
    )
    .bind(jti)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(false) };
    let a_revoked: Option<i64> = row.try_get("a_revoked")?;
    let g_revoked: Option<i64> = row.try_get("g_revoked")?;
    Ok(a_revoked.is_none() && g_revoked.is_none())
}

/// Revokes one access token.
pub async fn revoke_access_token(db: &Db, jti: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE access_tokens SET revoked_at = $1 WHERE jti = $2 AND revoked_at IS NULL")
        .bind(now())
        .bind(jti)
        .execute(&db.pool)
        .await?;
    Ok(())
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

/// Records consent to `scopes` (merged with earlier consent).
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
    sqlx::query(
        "INSERT INTO consents (user_id, client_id, scopes, granted_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(all.join(" "))
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The `claims` request parameter of the grant an access token belongs to.
pub async fn claims_of_access_token(db: &Db, jti: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query("SELECT g.claims AS claims FROM access_tokens a JOIN grants g ON g.id = a.grant_id WHERE a.jti = $1")
        .bind(jti)
        .fetch_optional(&db.pool)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("claims")?,
        None => None,
    })
}

/// The grant an access token belongs to, if any.
pub async fn grant_of_access_token(
    db: &Db,
    jti: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT grant_id, client_id FROM access_tokens WHERE jti = $1")
        .bind(jti)
        .fetch_optional(&db.pool)
        .await?;
    Ok(match row {
        Some(r) => {
            let grant: Option<String> = r.try_get("grant_id")?;
            Some((grant.unwrap_or_default(), r.try_get("client_id")?))
        }
        None => None,
    })
}
