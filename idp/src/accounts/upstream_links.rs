//! « AGENT DU MINISTÈRE »: the links between accounts and upstream subjects (`upstream_links`,
//! `(issuer, sub)` → user) and the rule of the allowed domains.

use crate::{
    accounts::{UserId, store},
    store::Db,
};

/// The account linked to this upstream subject, if any.
pub async fn user_of(
    db: &Db,
    issuer: &str,
    subject: &str,
) -> Result<Option<store::User>, sqlx::Error> {
    let id: Option<String> =
        sqlx::query_scalar("SELECT user_id FROM upstream_links WHERE issuer = $1 AND subject = $2")
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&db.pool)
            .await?;
    match id {
        Some(id) => store::user_by_id(db, &id).await,
        None => Ok(None),
    }
}

/// Links, inside the caller's transaction; `false` when the subject is already linked.
pub async fn insert_in(
    conn: &mut sqlx::AnyConnection,
    issuer: &str,
    subject: &str,
    user: &UserId,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO upstream_links (issuer, subject, user_id, created_at, last_login_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (issuer, subject) DO NOTHING",
    )
    .bind(issuer)
    .bind(subject)
    .bind(user.as_str())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a login through the link, inside the caller's transaction.
pub async fn touch_in(
    conn: &mut sqlx::AnyConnection,
    issuer: &str,
    subject: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE upstream_links SET last_login_at = $3 WHERE issuer = $1 AND subject = $2")
        .bind(issuer)
        .bind(subject)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether an upstream may create an account for this address on a first login: its domain
/// is one of the upstream's `allowed_domains` (exactly, case-insensitive).
pub fn domain_allowed(allowed: &[String], email: &crate::accounts::Email) -> bool {
    let Some((_, domain)) = email.as_str().rsplit_once('@') else {
        return false;
    };
    allowed.iter().any(|d| d.eq_ignore_ascii_case(domain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_domains_exactly() {
        let allowed = vec!["travail.gouv.fr".to_owned()];
        let ok = crate::accounts::Email::parse("a.b@travail.gouv.fr").unwrap();
        let sub = crate::accounts::Email::parse("a.b@x.travail.gouv.fr").unwrap();
        let other = crate::accounts::Email::parse("a.b@travail.gouv.fr.example").unwrap();
        assert!(domain_allowed(&allowed, &ok));
        assert!(!domain_allowed(&allowed, &sub));
        assert!(!domain_allowed(&allowed, &other));
    }
}
