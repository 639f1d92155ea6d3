//! Finding people for support (`idp users list`, `GET /api/v1/admin/users`): by a part of the
//! address, an establishment, a service, agent or disabled status, or no login since a date.

use sqlx::Row;

use crate::{organizations::Siret, store::Db};

/// Most rows one search returns.
pub const MAX_ROWS: i64 = 1000;

/// What to look for; every criterion given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A part of the e-mail address (case does not matter).
    pub email_part: Option<String>,
    /// Holds a habilitation or manager right at this establishment, or declared it.
    pub siret: Option<Siret>,
    /// Holds a habilitation for this service (its code).
    pub service: Option<String>,
    /// Marked agent, or linked to the ministry's directory (`true`); neither (`false`).
    pub agent: Option<bool>,
    /// Disabled (`true`), or not (`false`).
    pub disabled: Option<bool>,
    /// No login since this instant (seconds), never-logged-in accounts included.
    pub inactive_since: Option<i64>,
    /// At most this many rows (1 to [`MAX_ROWS`]).
    pub limit: i64,
}

/// One account found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Found {
    /// Its id.
    pub id: String,
    /// Its address.
    pub email: String,
    /// Prénom.
    pub given_name: String,
    /// Nom.
    pub family_name: String,
    /// Marked agent (break-glass) or linked to the ministry's directory.
    pub agent: bool,
    /// Created (seconds).
    pub created_at: i64,
    /// Last login (seconds).
    pub last_login_at: Option<i64>,
    /// Disabled since (seconds).
    pub disabled_at: Option<i64>,
}

/// `%`, `_` and `\` taken literally in a `LIKE … ESCAPE '\'` pattern.
fn like_literal(part: &str) -> String {
    let mut out = String::with_capacity(part.len() + 2);
    for c in part.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The accounts matching `filter`, by address.
pub async fn search(db: &Db, filter: &Filter) -> Result<Vec<Found>, sqlx::Error> {
    const AGENT: &str =
        "(u.is_agent = 1 OR EXISTS (SELECT 1 FROM upstream_links l WHERE l.user_id = u.id))";
    let mut clauses: Vec<String> = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut bind = |value: String| {
        binds.push(value);
        format!("${}", binds.len())
    };
    if let Some(part) = &filter.email_part {
        let p = bind(format!("%{}%", like_literal(&part.to_lowercase())));
        clauses.push(format!("u.email LIKE {p} ESCAPE '\\'"));
    }
    if let Some(siret) = &filter.siret {
        let p = bind(siret.as_str().to_owned());
        clauses.push(format!(
            "(u.siret = {p} OR EXISTS (SELECT 1 FROM habilitations h WHERE h.user_id = u.id AND h.siret = {p}) \
             OR EXISTS (SELECT 1 FROM access_managers m WHERE m.user_id = u.id AND m.siret = {p}))"
        ));
    }
    if let Some(service) = &filter.service {
        let p = bind(service.clone());
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM habilitations h WHERE h.user_id = u.id AND h.service_code = {p})"
        ));
    }
    match filter.agent {
        Some(true) => clauses.push(AGENT.to_owned()),
        Some(false) => clauses.push(format!("NOT {AGENT}")),
        None => {}
    }
    match filter.disabled {
        Some(true) => clauses.push("u.disabled_at IS NOT NULL".into()),
        Some(false) => clauses.push("u.disabled_at IS NULL".into()),
        None => {}
    }
    let mut numbers: Vec<i64> = Vec::new();
    if let Some(since) = filter.inactive_since {
        numbers.push(since);
        let p = format!("${}", binds.len() + numbers.len());
        clauses.push(format!(
            "(u.last_login_at IS NULL OR u.last_login_at < {p})"
        ));
    }
    numbers.push(filter.limit.clamp(1, MAX_ROWS));
    let limit = format!("${}", binds.len() + numbers.len());
    let wheres = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT u.id, u.email, u.given_name, u.family_name, u.created_at, u.last_login_at, \
         u.disabled_at, CASE WHEN {AGENT} THEN 1 ELSE 0 END AS agent \
         FROM users u {wheres} ORDER BY u.email LIMIT {limit}"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in binds {
        query = query.bind(value);
    }
    for value in numbers {
        query = query.bind(value);
    }
    query
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Found {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                given_name: r.try_get("given_name")?,
                family_name: r.try_get("family_name")?,
                agent: r.try_get::<i64, _>("agent")? != 0,
                created_at: r.try_get("created_at")?,
                last_login_at: r.try_get("last_login_at")?,
                disabled_at: r.try_get("disabled_at")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_in_a_part_are_taken_literally() {
        assert_eq!(like_literal("a_b%c\\d"), "a\\_b\\%c\\\\d");
    }
}
