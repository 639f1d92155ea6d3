//! Access requests (guide `002` §4 and §6.1): a person without access asks the Responsables
//! des accès of an establishment for a habilitation; one of them accepts it (with a role and
//! an optional end date) or refuses it. A request is handled once: the decision is one
//! conditional `UPDATE … WHERE status = 'pending'`, so of concurrent decisions on any number
//! of nodes exactly one wins. The requester may send it again (« Relancer ma demande ») only
//! [`RESEND_AFTER`] seconds after the last e-mail.

use sqlx::Row;

use crate::{accounts::UserId, organizations::Siret, store::Db};

/// Seconds between two e-mails of the same request to the managers: 30 days.
pub const RESEND_AFTER: i64 = 30 * 24 * 3600;
/// Longest message accepted, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1000;

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for a Responsable des accès.
    Pending,
    /// Accepted: the habilitation was granted.
    Accepted,
    /// Refused.
    Refused,
}

impl Status {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Refused => "refused",
        }
    }

    /// Reads a stored value; unknown values read as refused (never actionable).
    pub fn parse(s: &str) -> Self {
        match s {
            "pending" => Self::Pending,
            "accepted" => Self::Accepted,
            _ => Self::Refused,
        }
    }
}

/// One access request, with what the pages show about the requester and the establishment.
#[derive(Clone, Debug)]
pub struct AccessRequest {
    /// Id (in the managers' e-mail link).
    pub id: String,
    /// Who asks.
    pub user_id: String,
    /// For which service.
    pub service_code: String,
    /// For which establishment.
    pub siret: String,
    /// The requester's message, possibly empty.
    pub message: String,
    /// Where it stands.
    pub status: Status,
    /// When it was made (seconds).
    pub created_at: i64,
    /// Last e-mail to the managers (seconds); 0 when none could be sent.
    pub sent_at: i64,
    /// Who accepted or refused it (user id).
    pub handled_by: Option<String>,
    /// When.
    pub handled_at: Option<i64>,
    /// Requester's prénom.
    pub given_name: String,
    /// Requester's nom.
    pub family_name: String,
    /// Requester's e-mail.
    pub email: String,
    /// Requester's civilité (`female`, `male`).
    pub gender: Option<String>,
    /// Requester's poste.
    pub job: Option<String>,
    /// The establishment's name in the register, when it is there.
    pub establishment: Option<String>,
    /// Name of who handled it, when the account still exists.
    pub handled_by_name: Option<String>,
}

impl AccessRequest {
    /// « Alice Martin ».
    pub fn requester_name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
            .trim()
            .to_owned()
    }

    /// « CENTRE DE FORMATION DU LAC (SIRET 13002526500013) », or « SIRET … ».
    pub fn establishment_label(&self) -> String {
        match &self.establishment {
            Some(n) => format!("{n} (SIRET {})", self.siret),
            None => format!("SIRET {}", self.siret),
        }
    }

    /// Whether « Relancer ma demande » is allowed at `at`.
    pub fn can_resend(&self, at: i64) -> bool {
        self.status == Status::Pending && at >= self.sent_at + RESEND_AFTER
    }

    /// Whole days (rounded up) before « Relancer ma demande » is allowed; 0 when it is.
    pub fn days_before_resend(&self, at: i64) -> i64 {
        let left = self.sent_at + RESEND_AFTER - at;
        if left <= 0 {
            0
        } else {
            (left + 86_399) / 86_400
        }
    }
}

const SELECT: &str = "SELECT r.id, r.user_id, r.service_code, r.siret, r.message, r.status, \
    r.created_at, r.sent_at, r.handled_by, r.handled_at, u.given_name, u.family_name, u.email, \
    u.gender, u.job, e.name AS establishment, h.given_name AS by_given, h.family_name AS by_family \
    FROM access_requests r JOIN users u ON u.id = r.user_id \
    LEFT JOIN establishments e ON e.siret = r.siret \
    LEFT JOIN users h ON h.id = r.handled_by";

fn from_row(row: &sqlx::any::AnyRow) -> Result<AccessRequest, sqlx::Error> {
    let by_given: Option<String> = row.try_get("by_given")?;
    let by_family: Option<String> = row.try_get("by_family")?;
    Ok(AccessRequest {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        service_code: row.try_get("service_code")?,
        siret: row.try_get("siret")?,
        message: row.try_get("message")?,
        status: Status::parse(&row.try_get::<String, _>("status")?),
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
        handled_by: row.try_get("handled_by")?,
        handled_at: row.try_get("handled_at")?,
        given_name: row.try_get("given_name")?,
        family_name: row.try_get("family_name")?,
        email: row.try_get("email")?,
        gender: row.try_get("gender")?,
        job: row.try_get("job")?,
        establishment: row.try_get("establishment")?,
        handled_by_name: by_given
            .zip(by_family)
            .map(|(g, f)| format!("{g} {f}").trim().to_owned()),
    })
}

async fn select(db: &Db, filter: &str, binds: &[&str]) -> Result<Vec<AccessRequest>, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    select_in(&mut conn, filter, binds).await
}

async fn select_in(
    conn: &mut sqlx::AnyConnection,
    filter: &str,
    binds: &[&str],
) -> Result<Vec<AccessRequest>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE {filter} ORDER BY r.created_at, r.id");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(b.to_string());
    }
    query.fetch_all(conn).await?.iter().map(from_row).collect()
}

/// Stores a new pending request at `at` (its e-mails counted as sent then), inside the
/// caller's transaction, and returns it; `None` when the person already has one pending for
/// this establishment (a concurrent duplicate: the unique index `access_requests_one_pending`
/// lets one insert through).
pub async fn create_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &UserId,
    service_code: &str,
    siret: &Siret,
    message: &str,
    at: i64,
) -> Result<Option<AccessRequest>, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let done = sqlx::query(
        "INSERT INTO access_requests (id, user_id, service_code, siret, message, status, created_at, sent_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) ON CONFLICT DO NOTHING",
    )
    .bind(id.clone())
    .bind(user_id.as_str().to_owned())
    .bind(service_code.to_owned())
    .bind(siret.as_str().to_owned())
    .bind(message.to_owned())
    .bind(at)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(None);
    }
    Ok(select_in(conn, "r.id = $1", &[&id])
        .await?
        .into_iter()
        .next())
}

/// [`create_in`] in a transaction of its own, now: for seeding a request (tests, demo).
pub async fn create(
    db: &Db,
    user_id: &str,
    service_code: &str,
    siret: &str,
    message: &str,
) -> Result<Option<AccessRequest>, sqlx::Error> {
    let siret = Siret::parse(siret).map_err(|e| sqlx::Error::InvalidArgument(e.to_string()))?;
    let user_id = UserId::from_stored(user_id.to_owned());
    let mut tx = db.begin().await?;
    let at = crate::store::now();
    let created = create_in(&mut tx, &user_id, service_code, &siret, message, at).await?;
    tx.commit().await?;
    Ok(created)
}

/// One request by id.
pub async fn by_id(db: &Db, id: &str) -> Result<Option<AccessRequest>, sqlx::Error> {
    Ok(select(db, "r.id = $1", &[id]).await?.into_iter().next())
}

/// The pending request of `user_id` for this service and establishment, if any.
pub async fn pending_for(
    db: &Db,
    user_id: &str,
    service_code: &str,
    siret: &str,
) -> Result<Option<AccessRequest>, sqlx::Error> {
    Ok(select(
        db,
        "r.user_id = $1 AND r.service_code = $2 AND r.siret = $3 AND r.status = 'pending'",
        &[user_id, service_code, siret],
    )
    .await?
    .into_iter()
    .last())
}

/// [`pending_for`] inside the caller's transaction.
pub async fn pending_for_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &UserId,
    service_code: &str,
    siret: &str,
) -> Result<Option<AccessRequest>, sqlx::Error> {
    Ok(select_in(
        conn,
        "r.user_id = $1 AND r.service_code = $2 AND r.siret = $3 AND r.status = 'pending'",
        &[user_id.as_str(), service_code, siret],
    )
    .await?
    .into_iter()
    .last())
}

/// The pending requests of `user_id` for a service, oldest first.
pub async fn pending_of_user(
    db: &Db,
    user_id: &str,
    service_code: &str,
) -> Result<Vec<AccessRequest>, sqlx::Error> {
    select(
        db,
        "r.user_id = $1 AND r.service_code = $2 AND r.status = 'pending'",
        &[user_id, service_code],
    )
    .await
}

const MANAGED: &str = "r.status = 'pending' AND r.service_code = $2 AND r.siret IN \
    (SELECT m.siret FROM access_managers m WHERE m.user_id = $1 AND m.service_code = $2)";

/// The pending requests of the establishments `user_id` manages for a service, oldest first:
/// the manager's list of « Demandes d'accès ».
pub async fn pending_for_manager(
    db: &Db,
    user_id: &str,
    service_code: &str,
) -> Result<Vec<AccessRequest>, sqlx::Error> {
    select(db, MANAGED, &[user_id, service_code]).await
}

/// How many of those there are: the red badge.
pub async fn count_pending_for_manager(
    db: &Db,
    user_id: &str,
    service_code: &str,
) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT COUNT(*) FROM access_requests r WHERE {MANAGED}");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(user_id)
        .bind(service_code)
        .fetch_one(&db.pool)
        .await
}

/// Records that the managers were e-mailed again at `at`, inside the caller's transaction, if
/// the request is still pending and its last e-mail is at least [`RESEND_AFTER`] old; `false`
/// otherwise (of two concurrent « Relancer », one wins).
pub async fn mark_resent_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE access_requests SET sent_at = $2 WHERE id = $1 AND status = 'pending' AND sent_at <= $3",
    )
    .bind(id.to_owned())
    .bind(at)
    .bind(at - RESEND_AFTER)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Records that no e-mail could reach a manager: « Relancer ma demande » is allowed at once.
pub async fn mark_unsent(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE access_requests SET sent_at = 0 WHERE id = $1 AND status = 'pending'")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Marks a pending request `status` (`accepted` or `refused`) by `manager_id` at `at`, inside
/// the caller's transaction; `false` when it was no longer pending (another Responsable des
/// accès decided first).
pub async fn decide_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    manager_id: &str,
    status: &str,
    at: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE access_requests SET status = $4, handled_by = $2, handled_at = $3 \
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id.to_owned())
    .bind(manager_id.to_owned())
    .bind(at)
    .bind(status.to_owned())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(sent_at: i64) -> AccessRequest {
        AccessRequest {
            id: "r".into(),
            user_id: "u".into(),
            service_code: "ceres".into(),
            siret: "13002526500013".into(),
            message: String::new(),
            status: Status::Pending,
            created_at: sent_at,
            sent_at,
            handled_by: None,
            handled_at: None,
            given_name: "Alice".into(),
            family_name: "Martin".into(),
            email: "alice@centre.fr".into(),
            gender: None,
            job: None,
            establishment: None,
            handled_by_name: None,
        }
    }

    #[test]
    fn a_request_can_be_sent_again_after_thirty_days_only() {
        let r = request(1_000_000);
        assert_eq!(r.days_before_resend(1_000_000), 30);
        assert_eq!(r.days_before_resend(1_000_000 + 1), 30);
        assert_eq!(r.days_before_resend(1_000_000 + 86_400), 29);
        assert!(!r.can_resend(1_000_000 + RESEND_AFTER - 1));
        assert_eq!(r.days_before_resend(1_000_000 + RESEND_AFTER - 1), 1);
        assert!(r.can_resend(1_000_000 + RESEND_AFTER));
        assert_eq!(r.days_before_resend(1_000_000 + RESEND_AFTER), 0);
        let mut handled = request(0);
        handled.status = Status::Accepted;
        assert!(!handled.can_resend(RESEND_AFTER * 2));
    }
}
