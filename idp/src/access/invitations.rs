//! Invitations (guide `002` §6.2–6.3): a Responsable des accès invites a person by e-mail to
//! one of their establishments; the invitation waits « en attente de connexion » until the
//! person logs in, expires [`LIFETIME_SECONDS`] after it was sent, and can then be sent again
//! (« Relancer l'invitation »). One invitation per establishment; the habilitations
//! themselves are granted when the invitation is sent, the row only tracks the connection.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::store::{Db, now};

/// How long an invitation waits before it may be sent again: 1 day.
pub const LIFETIME_SECONDS: i64 = 86_400;

/// One role of an invitation, as stored in its `roles` JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitedRole {
    /// Role code.
    pub role: String,
    /// Last day, `YYYY-MM-DD`, or none.
    pub end_date: Option<String>,
}

/// One invitation.
#[derive(Clone, Debug)]
pub struct Invitation {
    /// Id.
    pub id: String,
    /// The address invited.
    pub email: String,
    /// The account (created by the invitation when it was new).
    pub user_id: String,
    /// Service.
    pub service_code: String,
    /// Establishment.
    pub siret: String,
    /// Roles given.
    pub roles: Vec<InvitedRole>,
    /// The Responsable des accès who sent it (user id).
    pub invited_by: String,
    /// When it was first sent (seconds).
    pub created_at: i64,
    /// When it was last sent (seconds).
    pub sent_at: i64,
    /// From when it may be sent again (seconds).
    pub expires_at: i64,
    /// When the person first logged in after it (seconds).
    pub accepted_at: Option<i64>,
}

impl Invitation {
    /// Whether « Relancer l'invitation » is allowed at `at`.
    pub fn can_resend(&self, at: i64) -> bool {
        self.accepted_at.is_none() && self.expires_at <= at
    }
}

/// What a new invitation needs.
#[derive(Clone, Debug)]
pub struct NewInvitation<'a> {
    /// The address invited.
    pub email: &'a str,
    /// The account.
    pub user_id: &'a str,
    /// Service.
    pub service_code: &'a str,
    /// Establishment.
    pub siret: &'a str,
    /// Roles given.
    pub roles: &'a [InvitedRole],
    /// Who invites.
    pub invited_by: &'a str,
}

const COLUMNS: &str = "id, email, user_id, service_code, siret, roles, invited_by, created_at, \
    sent_at, expires_at, accepted_at";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Invitation, sqlx::Error> {
    let roles: String = row.try_get("roles")?;
    Ok(Invitation {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        user_id: row.try_get("user_id")?,
        service_code: row.try_get("service_code")?,
        siret: row.try_get("siret")?,
        roles: serde_json::from_str(&roles).unwrap_or_default(),
        invited_by: row.try_get("invited_by")?,
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
        expires_at: row.try_get("expires_at")?,
        accepted_at: row.try_get("accepted_at")?,
    })
}

/// Stores an invitation just sent; returns its id.
pub async fn create(db: &Db, new: &NewInvitation<'_>) -> Result<String, sqlx::Error> {
    let mut tx = db.begin().await?;
    let id = create_in(&mut tx, new, now()).await?;
    tx.commit().await?;
    Ok(id)
}

/// [`create`] inside the caller's transaction, at `at`.
pub async fn create_in(
    conn: &mut sqlx::AnyConnection,
    new: &NewInvitation<'_>,
    at: i64,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let roles = serde_json::to_string(new.roles).expect("roles serialise");
    sqlx::query(
        "INSERT INTO invitations (id, email, user_id, service_code, siret, roles, invited_by, created_at, sent_at, expires_at, accepted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, NULL)",
    )
    .bind(&id)
    .bind(new.email)
    .bind(new.user_id)
    .bind(new.service_code)
    .bind(new.siret)
    .bind(&roles)
    .bind(new.invited_by)
    .bind(at)
    .bind(at + LIFETIME_SECONDS)
    .execute(conn)
    .await?;
    Ok(id)
}

/// One invitation by id.
pub async fn by_id(db: &Db, id: &str) -> Result<Option<Invitation>, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    by_id_in(&mut conn, id).await
}

/// [`by_id`] inside the caller's transaction.
pub async fn by_id_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> Result<Option<Invitation>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM invitations WHERE id = $1");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The invitations of a service's establishments still waiting for the person's first
/// login, newest first.
pub async fn pending(
    db: &Db,
    service_code: &str,
    sirets: &[String],
) -> Result<Vec<Invitation>, sqlx::Error> {
    let mut all = Vec::new();
    let sql = format!(
        "SELECT {COLUMNS} FROM invitations WHERE service_code = $1 AND siret = $2 AND accepted_at IS NULL"
    );
    for siret in sirets {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(service_code)
            .bind(siret)
            .fetch_all(&db.pool)
            .await?;
        for row in &rows {
            all.push(from_row(row)?);
        }
    }
    all.sort_by(|a, b| b.sent_at.cmp(&a.sent_at).then_with(|| a.id.cmp(&b.id)));
    Ok(all)
}

/// Marks a pending invitation sent again at `at`, inside the caller's transaction, only once it
/// has expired: `false` when it has not (or was accepted meanwhile). Of two concurrent
/// relaunches, one wins.
pub async fn resend_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE invitations SET sent_at = $1, expires_at = $2 \
         WHERE id = $3 AND expires_at <= $1 AND accepted_at IS NULL",
    )
    .bind(at)
    .bind(at + LIFETIME_SECONDS)
    .bind(id.to_owned())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The person logged in: their pending invitations are no longer pending. A failure is
/// logged and does not prevent the login.
pub async fn mark_connected(db: &Db, user_id: &str) {
    let done = sqlx::query(
        "UPDATE invitations SET accepted_at = $1 WHERE user_id = $2 AND accepted_at IS NULL",
    )
    .bind(now())
    .bind(user_id)
    .execute(&db.pool)
    .await;
    if let Err(e) = done {
        tracing::warn!(user.id = %user_id, error.message = %e, "invitations not marked connected");
    }
}

/// « 1 jour », « 5 heures », « 1 heure »: how long until `expires_at`, for « Vous pourrez
/// relancer cette invitation dans … ».
pub fn wait_label(seconds_left: i64) -> String {
    let hours = (seconds_left.max(1) + 3599) / 3600;
    if hours >= 24 {
        let days = (hours + 23) / 24;
        if days == 1 {
            "1 jour".to_owned()
        } else {
            format!("{days} jours")
        }
    } else if hours == 1 {
        "1 heure".to_owned()
    } else {
        format!("{hours} heures")
    }
}

#[cfg(test)]
mod tests {
    use super::wait_label;

    #[test]
    fn wait_labels() {
        assert_eq!(wait_label(86_400), "1 jour");
        assert_eq!(wait_label(86_399), "1 jour");
        assert_eq!(wait_label(82_800), "23 heures");
        assert_eq!(wait_label(3_000), "1 heure");
        assert_eq!(wait_label(0), "1 heure");
    }
}
