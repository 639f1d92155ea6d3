//! EFP Connect's own conditions générales d'utilisation (guide `002` §3.2, « J'accepte les
//! conditions générales d'utilisation »), distinct from each service's CGU (`access::services`).
//!
//! Versioned in `cgu_versions` (the highest version is current; operators publish one with
//! `idp cgu publish`), accepted in `cgu_acceptances`. The sign-up records the current version
//! in its transaction; whoever has not accepted the current version (a newer one was
//! published, or the account was created by an invitation or an operator) is asked at the
//! next login, before any session starts ([`pages::ask`]).

pub mod pages;

use sqlx::Row;

use crate::{access::services::Document, store::Db};

/// The public page of the current version.
pub const PATH: &str = "/cgu";
/// Where the login's interstitial posts the answer.
pub const ACCEPT_PATH: &str = "/cgu/accepter";

/// One version of the CGU.
#[derive(Clone, Debug)]
pub struct Cgu {
    /// Version, title and text.
    pub document: Document,
    /// When it was published (seconds).
    pub published_at: i64,
}

impl Cgu {
    /// `JJ/MM/AAAA` of the publication.
    pub fn date(&self) -> String {
        crate::access::dates::french_date(self.published_at)
    }
}

/// The version a person accepted last, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acceptance {
    /// Version accepted.
    pub version: i64,
    /// When (seconds).
    pub accepted_at: i64,
}

impl Acceptance {
    /// `JJ/MM/AAAA` of the acceptance.
    pub fn date(&self) -> String {
        crate::access::dates::french_date(self.accepted_at)
    }
}

/// The rule: a person must accept the current version when there is one and the version they
/// accepted last (if any) is older.
pub fn must_accept(current: Option<i64>, accepted: Option<Acceptance>) -> bool {
    current.is_some_and(|c| accepted.is_none_or(|a| a.version < c))
}

/// The current version.
pub async fn current(db: &Db) -> Result<Option<Cgu>, sqlx::Error> {
    current_in(&mut *db.pool.acquire().await?).await
}

/// [`current`] on an action's connection.
pub async fn current_in(conn: &mut sqlx::AnyConnection) -> Result<Option<Cgu>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT version, title, body, published_at FROM cgu_versions \
         ORDER BY version DESC LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Cgu {
            document: Document {
                version: r.try_get("version")?,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
            },
            published_at: r.try_get("published_at")?,
        })
    })
    .transpose()
}

/// The version `user_id` accepted last.
pub async fn accepted(db: &Db, user_id: &str) -> Result<Option<Acceptance>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT version, accepted_at FROM cgu_acceptances WHERE user_id = $1 \
         ORDER BY version DESC LIMIT 1",
    )
    .bind(user_id.to_owned())
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| {
        Ok(Acceptance {
            version: r.try_get("version")?,
            accepted_at: r.try_get("accepted_at")?,
        })
    })
    .transpose()
}

/// The current version when `user_id` must accept it ([`must_accept`]).
pub async fn to_accept(db: &Db, user_id: &str) -> Result<Option<Cgu>, sqlx::Error> {
    let Some(cgu) = current(db).await? else {
        return Ok(None);
    };
    let accepted = accepted(db, user_id).await?;
    Ok(must_accept(Some(cgu.document.version), accepted).then_some(cgu))
}

/// Records, on an action's connection, that `user_id` accepted `version` at `at` (accepting
/// twice keeps the first date).
pub async fn accept_in(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    version: i64,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO cgu_acceptances (user_id, version, accepted_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(user_id.to_owned())
    .bind(version)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Publishes the next version at `at` on an action's connection; returns its number.
pub async fn publish_in(
    conn: &mut sqlx::AnyConnection,
    title: &str,
    body: &str,
    at: i64,
) -> Result<i64, sqlx::Error> {
    let version = current_in(&mut *conn)
        .await?
        .map_or(1, |c| c.document.version + 1);
    sqlx::query(
        "INSERT INTO cgu_versions (version, title, body, published_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(version)
    .bind(title.to_owned())
    .bind(body.to_owned())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_version_is_asked_of_whoever_accepted_an_older_one_or_none() {
        let accepted = |version| {
            Some(Acceptance {
                version,
                accepted_at: 0,
            })
        };
        assert!(must_accept(Some(1), None));
        assert!(must_accept(Some(2), accepted(1)));
        assert!(!must_accept(Some(2), accepted(2)));
        assert!(!must_accept(None, None));
    }
}
