//! The Responsable des accès right: per person, service and establishment. Obtained by
//! redeeming the establishment's activation code, or delegated by a colleague holding it.

use sqlx::Row;

use super::habilitations::GrantedHow;
use crate::store::{Db, now};

/// One Responsable des accès right.
#[derive(Clone, Debug)]
pub struct AccessManager {
    /// Who holds it.
    pub user_id: String,
    /// Their name.
    pub name: String,
    /// Their address, for the notification e-mails.
    pub email: String,
    /// Service.
    pub service_code: String,
    /// Establishment.
    pub siret: String,
    /// Who delegated it (user id), if someone did.
    pub granted_by: Option<String>,
    /// That person's name.
    pub granted_by_name: Option<String>,
    /// How it was obtained.
    pub granted_how: GrantedHow,
    /// When.
    pub granted_at: i64,
    /// The latest version of the charte they accepted for this establishment, and when.
    pub charte: Option<(i64, i64)>,
}

impl AccessManager {
    /// « charte acceptée le 04/12/2026 (version 2) », for the agents' page.
    pub fn charte_status(&self) -> String {
        match self.charte {
            Some((version, at)) => format!(
                "charte acceptée le {} (version {version})",
                super::dates::french_date(at)
            ),
            None => "charte pas encore acceptée".to_owned(),
        }
    }

    /// « attribué par code d'activation le … ».
    pub fn origin(&self) -> String {
        self.granted_how
            .describe(self.granted_by_name.as_deref(), self.granted_at)
    }
}

// The charte columns: the latest version the manager accepted for the establishment.
const SELECT: &str = "SELECT m.user_id, m.service_code, m.siret, m.granted_by, m.granted_how, m.granted_at, \
    u.given_name, u.family_name, u.email, g.given_name AS by_given, g.family_name AS by_family, \
    (SELECT d.version FROM document_acceptances d WHERE d.user_id = m.user_id \
      AND d.service_code = m.service_code AND d.kind = 'charte' AND d.siret = m.siret \
      ORDER BY d.version DESC LIMIT 1) AS charte_version, \
    (SELECT d.accepted_at FROM document_acceptances d WHERE d.user_id = m.user_id \
      AND d.service_code = m.service_code AND d.kind = 'charte' AND d.siret = m.siret \
      ORDER BY d.version DESC LIMIT 1) AS charte_at \
    FROM access_managers m JOIN users u ON u.id = m.user_id LEFT JOIN users g ON g.id = m.granted_by";

fn from_row(row: &sqlx::any::AnyRow) -> Result<AccessManager, sqlx::Error> {
    let name = |g: Option<String>, f: Option<String>| {
        g.zip(f).map(|(g, f)| format!("{g} {f}").trim().to_owned())
    };
    Ok(AccessManager {
        user_id: row.try_get("user_id")?,
        name: name(row.try_get("given_name")?, row.try_get("family_name")?).unwrap_or_default(),
        email: row.try_get("email")?,
        service_code: row.try_get("service_code")?,
        siret: row.try_get("siret")?,
        granted_by: row.try_get("granted_by")?,
        granted_by_name: name(row.try_get("by_given")?, row.try_get("by_family")?),
        granted_how: GrantedHow::parse(&row.try_get::<String, _>("granted_how")?),
        granted_at: row.try_get("granted_at")?,
        charte: row
            .try_get::<Option<i64>, _>("charte_version")?
            .zip(row.try_get::<Option<i64>, _>("charte_at")?),
    })
}

async fn select(db: &Db, filter: &str, binds: &[&str]) -> Result<Vec<AccessManager>, sqlx::Error> {
    select_in(&mut *db.pool.acquire().await?, filter, binds).await
}

async fn select_in(
    conn: &mut sqlx::AnyConnection,
    filter: &str,
    binds: &[&str],
) -> Result<Vec<AccessManager>, sqlx::Error> {
    let sql = format!("{SELECT} WHERE {filter} ORDER BY m.siret, m.granted_at");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(*b);
    }
    query.fetch_all(conn).await?.iter().map(from_row).collect()
}

/// Gives the right (again: a second grant keeps the first origin).
pub async fn grant(
    db: &Db,
    user_id: &str,
    service_code: &str,
    siret: &str,
    granted_by: Option<&str>,
    how: GrantedHow,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    grant_in(
        &mut tx,
        user_id,
        service_code,
        siret,
        granted_by,
        how,
        now(),
    )
    .await?;
    tx.commit().await
}

/// [`grant`] inside the caller's transaction, at `at`.
pub async fn grant_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    service_code: &str,
    siret: &str,
    granted_by: Option<&str>,
    how: GrantedHow,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO access_managers (user_id, service_code, siret, granted_by, granted_how, granted_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(service_code)
    .bind(siret)
    .bind(granted_by)
    .bind(how.as_str())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether `user_id` is Responsable des accès of `siret` for the service.
pub async fn is_manager(
    db: &Db,
    user_id: &str,
    service_code: &str,
    siret: &str,
) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM access_managers WHERE user_id = $1 AND service_code = $2 AND siret = $3",
    )
    .bind(user_id)
    .bind(service_code)
    .bind(siret)
    .fetch_one(&db.pool)
    .await?;
    Ok(n > 0)
}

/// The Responsables des accès of an establishment for a service.
pub async fn of_establishment(
    db: &Db,
    service_code: &str,
    siret: &str,
) -> Result<Vec<AccessManager>, sqlx::Error> {
    select(
        db,
        "m.service_code = $1 AND m.siret = $2",
        &[service_code, siret],
    )
    .await
}

/// The establishments `user_id` manages for a service: the `access_manager_of` claim.
pub async fn establishments_of(
    db: &Db,
    user_id: &str,
    service_code: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(
        "SELECT siret FROM access_managers WHERE user_id = $1 AND service_code = $2 ORDER BY siret",
    )
    .bind(user_id)
    .bind(service_code)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| r.try_get("siret"))
    .collect()
}

/// The establishments `user_id` is Responsable des accès of for a service, with the charte they
/// accepted for each.
pub async fn of_user(
    db: &Db,
    user_id: &str,
    service_code: &str,
) -> Result<Vec<AccessManager>, sqlx::Error> {
    select(
        db,
        "m.user_id = $1 AND m.service_code = $2",
        &[user_id, service_code],
    )
    .await
}

/// Gives the right at `at`, inside the caller's transaction (again: a second grant keeps the
/// first origin).
pub async fn insert_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &crate::accounts::UserId,
    service_code: &str,
    siret: &crate::organizations::Siret,
    granted_by: Option<&crate::accounts::UserId>,
    how: GrantedHow,
    at: i64,
) -> Result<(), sqlx::Error> {
    let by = granted_by.map(crate::accounts::UserId::as_str);
    grant_in(
        conn,
        user_id.as_str(),
        service_code,
        siret.as_str(),
        by,
        how,
        at,
    )
    .await
}

/// The establishments `user_id` manages for the service, inside the caller's transaction.
pub async fn establishments_of_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &crate::accounts::UserId,
    service_code: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(
        "SELECT siret FROM access_managers WHERE user_id = $1 AND service_code = $2 ORDER BY siret",
    )
    .bind(user_id.as_str().to_owned())
    .bind(service_code.to_owned())
    .fetch_all(conn)
    .await?
    .iter()
    .map(|r| r.try_get("siret"))
    .collect()
}

/// The Responsables des accès of an establishment, inside the caller's transaction.
pub async fn of_establishment_in(
    conn: &mut sqlx::AnyConnection,
    service_code: &str,
    siret: &str,
) -> Result<Vec<AccessManager>, sqlx::Error> {
    select_in(
        conn,
        "m.service_code = $1 AND m.siret = $2",
        &[service_code, siret],
    )
    .await
}

/// Deletes the right, inside the caller's transaction (the rules decided it may go).
pub async fn delete_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &crate::accounts::UserId,
    service_code: &str,
    siret: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM access_managers WHERE user_id = $1 AND service_code = $2 AND siret = $3",
    )
    .bind(user_id.as_str().to_owned())
    .bind(service_code.to_owned())
    .bind(siret.to_owned())
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether the person is a Responsable des accès of any establishment.
pub async fn manages_any(db: &Db, user_id: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM access_managers WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&db.pool)
        .await?;
    Ok(n > 0)
}

/// Whether the person's link to an establishment was checked: Responsable des accès through a
/// redeemed postal activation code (the letter goes to the establishment's registered address).
pub async fn link_checked(db: &Db, user_id: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM access_managers WHERE user_id = $1 AND granted_how = 'activation_code'",
    )
    .bind(user_id)
    .fetch_one(&db.pool)
    .await?;
    Ok(n > 0)
}
