//! Habilitations: a person may use a service, for an establishment (SIRET), with a role,
//! until an optional end date. Past that date a habilitation counts nowhere (claims, lists of
//! what one may do); it is kept so its history stays readable.

use sqlx::Row;

use super::dates::{self, EndDate};
use crate::store::{Db, now};

/// How a habilitation or a Responsable des accès right was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantedHow {
    /// Redeeming the establishment's activation code.
    ActivationCode,
    /// A Responsable des accès accepted the person's request.
    Request,
    /// A Responsable des accès invited the person.
    Invitation,
    /// A Responsable des accès gave it to themselves or to a colleague from their pages.
    Manager,
    /// Delegation of the Responsable des accès right by a colleague holding it.
    Delegation,
    /// An operator, from the command line.
    Operator,
}

impl GrantedHow {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActivationCode => "activation_code",
            Self::Request => "request",
            Self::Invitation => "invitation",
            Self::Manager => "manager",
            Self::Delegation => "delegation",
            Self::Operator => "operator",
        }
    }

    /// Reads a stored value; unknown values read as `Operator`.
    pub fn parse(s: &str) -> Self {
        match s {
            "activation_code" => Self::ActivationCode,
            "request" => Self::Request,
            "invitation" => Self::Invitation,
            "manager" => Self::Manager,
            "delegation" => Self::Delegation,
            _ => Self::Operator,
        }
    }

    /// « attribué par code d'activation le 05/11/2024 », « Habilité par Jeanne Martin le … ».
    pub fn describe(self, by: Option<&str>, at: i64) -> String {
        let date = dates::french_date(at);
        match (self, by) {
            (Self::ActivationCode, _) => format!("attribué par code d'activation le {date}"),
            (Self::Operator, _) => format!("attribué par l'administration le {date}"),
            (_, Some(name)) => format!("Habilité par {name} le {date}"),
            (_, None) => format!("attribué le {date}"),
        }
    }
}

/// One habilitation.
#[derive(Clone, Debug)]
pub struct Habilitation {
    /// Id.
    pub id: String,
    /// Who holds it.
    pub user_id: String,
    /// For which service.
    pub service_code: String,
    /// For which establishment.
    pub siret: String,
    /// The establishment's name in the register, when it is there.
    pub establishment: Option<String>,
    /// Role code.
    pub role: String,
    /// Role label.
    pub role_label: String,
    /// Last day it counts.
    pub end_date: Option<EndDate>,
    /// Who granted it (user id).
    pub granted_by: Option<String>,
    /// That person's name, when the account still exists.
    pub granted_by_name: Option<String>,
    /// How.
    pub granted_how: GrantedHow,
    /// When (seconds).
    pub granted_at: i64,
}

impl Habilitation {
    /// Whether it still counts today (Paris).
    pub fn is_live(&self) -> bool {
        self.end_date.is_none_or(|d| d.covers(dates::today()))
    }

    /// « Habilité par … le … ».
    pub fn origin(&self) -> String {
        self.granted_how
            .describe(self.granted_by_name.as_deref(), self.granted_at)
    }
}

/// What a grant needs.
#[derive(Clone, Debug)]
pub struct NewHabilitation<'a> {
    /// Who receives it.
    pub user_id: &'a str,
    /// Service.
    pub service_code: &'a str,
    /// Establishment (checked by the caller: a `Siret`, open in the register).
    pub siret: &'a str,
    /// Role (checked by the caller against the service's roles).
    pub role: &'a str,
    /// Last day.
    pub end_date: Option<EndDate>,
    /// Who grants it.
    pub granted_by: Option<&'a str>,
    /// How.
    pub how: GrantedHow,
}

const SELECT: &str = "SELECT h.id, h.user_id, h.service_code, h.siret, h.role_code, h.end_date, \
    h.granted_by, h.granted_how, h.granted_at, r.label AS role_label, e.name AS establishment, \
    g.given_name AS by_given, g.family_name AS by_family \
    FROM habilitations h \
    JOIN service_roles r ON r.service_code = h.service_code AND r.code = h.role_code \
    LEFT JOIN establishments e ON e.siret = h.siret \
    LEFT JOIN users g ON g.id = h.granted_by";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Habilitation, sqlx::Error> {
    let by_given: Option<String> = row.try_get("by_given")?;
    let by_family: Option<String> = row.try_get("by_family")?;
    let end: Option<String> = row.try_get("end_date")?;
    Ok(Habilitation {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        service_code: row.try_get("service_code")?,
        siret: row.try_get("siret")?,
        establishment: row.try_get("establishment")?,
        role: row.try_get("role_code")?,
        role_label: row.try_get("role_label")?,
        end_date: end.as_deref().and_then(EndDate::from_stored),
        granted_by: row.try_get("granted_by")?,
        granted_by_name: by_given
            .zip(by_family)
            .map(|(g, f)| format!("{g} {f}").trim().to_owned()),
        granted_how: GrantedHow::parse(&row.try_get::<String, _>("granted_how")?),
        granted_at: row.try_get("granted_at")?,
    })
}

async fn select(db: &Db, filter: &str, binds: &[&str]) -> Result<Vec<Habilitation>, sqlx::Error> {
    select_in(&mut *db.pool.acquire().await?, filter, binds).await
}

async fn select_in(
    conn: &mut sqlx::AnyConnection,
    filter: &str,
    binds: &[&str],
) -> Result<Vec<Habilitation>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE {filter} ORDER BY h.siret, r.position, h.granted_at");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(*b);
    }
    query.fetch_all(conn).await?.iter().map(from_row).collect()
}

/// Grants a habilitation; granting one that exists (same person, service, establishment and
/// role) replaces its end date and origin. Returns its id.
pub async fn grant(db: &Db, new: &NewHabilitation<'_>) -> Result<String, sqlx::Error> {
    let mut tx = db.begin().await?;
    let id = grant_in(&mut tx, new, now()).await?;
    tx.commit().await?;
    Ok(id)
}

/// [`grant`] inside the caller's transaction, at `at`.
pub async fn grant_in(
    conn: &mut sqlx::AnyConnection,
    new: &NewHabilitation<'_>,
    at: i64,
) -> Result<String, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO habilitations (id, user_id, service_code, siret, role_code, end_date, granted_by, granted_how, granted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (user_id, service_code, siret, role_code) DO UPDATE SET \
         end_date = excluded.end_date, granted_by = excluded.granted_by, \
         granted_how = excluded.granted_how, granted_at = excluded.granted_at",
    )
    .bind(&id)
    .bind(new.user_id)
    .bind(new.service_code)
    .bind(new.siret)
    .bind(new.role)
    .bind(new.end_date.map(|d| d.iso()))
    .bind(new.granted_by)
    .bind(new.how.as_str())
    .bind(at)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar(
        "SELECT id FROM habilitations WHERE user_id = $1 AND service_code = $2 AND siret = $3 AND role_code = $4",
    )
    .bind(new.user_id)
    .bind(new.service_code)
    .bind(new.siret)
    .bind(new.role)
    .fetch_one(conn)
    .await
}

/// Deletes a habilitation inside the caller's transaction.
pub async fn delete_in(conn: &mut sqlx::AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM habilitations WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// One habilitation by id.
pub async fn by_id(db: &Db, id: &str) -> Result<Option<Habilitation>, sqlx::Error> {
    Ok(select(db, "h.id = $1", &[id]).await?.into_iter().next())
}

/// Removes a habilitation; `false` when there was none.
pub async fn remove(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM habilitations WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A person's habilitations for a service that count today: what the claims carry.
pub async fn live(
    db: &Db,
    user_id: &str,
    service_code: &str,
) -> Result<Vec<Habilitation>, sqlx::Error> {
    let today = dates::today_iso();
    select(
        db,
        "h.user_id = $1 AND h.service_code = $2 AND (h.end_date IS NULL OR h.end_date >= $3)",
        &[user_id, service_code, &today],
    )
    .await
}

/// All of a person's habilitations for a service, ended ones included.
pub async fn of_user(
    db: &Db,
    user_id: &str,
    service_code: &str,
) -> Result<Vec<Habilitation>, sqlx::Error> {
    select(
        db,
        "h.user_id = $1 AND h.service_code = $2",
        &[user_id, service_code],
    )
    .await
}

/// The habilitations given for an establishment and a service, ended ones included.
pub async fn of_establishment(
    db: &Db,
    service_code: &str,
    siret: &str,
) -> Result<Vec<Habilitation>, sqlx::Error> {
    select(
        db,
        "h.service_code = $1 AND h.siret = $2",
        &[service_code, siret],
    )
    .await
}

/// [`by_id`] inside the caller's transaction.
pub async fn by_id_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
) -> Result<Option<Habilitation>, sqlx::Error> {
    Ok(select_in(conn, "h.id = $1", &[id])
        .await?
        .into_iter()
        .next())
}

/// [`live`] inside the caller's transaction.
pub async fn live_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &crate::accounts::UserId,
    service_code: &str,
) -> Result<Vec<Habilitation>, sqlx::Error> {
    let today = dates::today_iso();
    select_in(
        conn,
        "h.user_id = $1 AND h.service_code = $2 AND (h.end_date IS NULL OR h.end_date >= $3)",
        &[user_id.as_str(), service_code, &today],
    )
    .await
}

/// [`remove`] inside the caller's transaction.
pub async fn remove_in(conn: &mut sqlx::AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM habilitations WHERE id = $1")
        .bind(id.to_owned())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Sets a habilitation's last day (none: no end) inside the caller's transaction; `false` when
/// there was no such habilitation.
pub async fn set_end_date_in(
    conn: &mut sqlx::AnyConnection,
    id: &str,
    end_date: Option<EndDate>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE habilitations SET end_date = $2 WHERE id = $1")
        .bind(id.to_owned())
        .bind(end_date.map(|d| d.iso()))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}
