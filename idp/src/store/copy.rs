//! Moving an installation to another engine (`idp db copy --from sqlite://… --to postgres://…`):
//! the target is migrated to this version's schema, must hold nothing yet, and receives every
//! table's rows in batches, in the order their references need; then every table's count is
//! compared. The source is only read (stop the nodes first: rows written during the copy are
//! not carried). Docs: docs/operations.md, « Moving to PostgreSQL ».

use futures_util::TryStreamExt;
use sqlx::Row;

use super::{Db, db::Engine};

/// Every table of the schema, each after the tables it references. A table of the source
/// missing here stops the copy ([`CopyError::UnknownTable`]): a new migration must say where its
/// tables go, rather than have them left behind.
pub const TABLES: &[&str] = &[
    "users",
    "clients",
    "consents",
    "signing_keys",
    "grants",
    "refresh_tokens",
    "audit_events",
    "user_totp",
    "totp_recovery_codes",
    "establishments",
    "services",
    "service_roles",
    "service_clients",
    "service_documents",
    "document_acceptances",
    "habilitations",
    "access_managers",
    "activation_codes",
    "access_requests",
    "invitations",
    "revoked_tokens",
    "cgu_versions",
    "cgu_acceptances",
    "logout_deliveries",
    "upstream_links",
    "user_passkeys",
    "known_browsers",
    "sealed_secrets",
];

/// Tables the migrations themselves fill (the CERES service, its roles and documents, the first
/// CGU): their rows in a fresh target are the source's own seed, replaced by the source's rows.
const SEEDED: &[&str] = &[
    "services",
    "service_roles",
    "service_documents",
    "cgu_versions",
];

/// Rows per insert transaction.
pub const BATCH: usize = 500;

/// Why a copy stopped.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A database failed.
    #[error("base de données : {0}")]
    Db(#[from] sqlx::Error),
    /// The target holds data already.
    #[error("la base cible n'est pas vide (table {table} : {rows} ligne(s)) : rien n'a été copié")]
    TargetNotEmpty {
        /// The first table found with rows.
        table: String,
        /// How many.
        rows: i64,
    },
    /// The source has a table this version does not know where to copy.
    #[error("table inconnue dans la base source : {0} (version plus récente ?)")]
    UnknownTable(String),
    /// Counts differ after the copy.
    #[error("table {table} : {source_rows} ligne(s) dans la source, {target_rows} dans la cible")]
    CountMismatch {
        /// The table.
        table: String,
        /// Rows in the source.
        source_rows: i64,
        /// Rows in the target.
        target_rows: i64,
    },
}

/// What kind of value a column holds, from the target's declared type: a NULL is bound as that
/// type (PostgreSQL refuses a NULL of another type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
    Bytes,
    Real,
}

impl Kind {
    fn of(declared: &str) -> Self {
        let d = declared.to_ascii_lowercase();
        if d.contains("int") {
            Self::Integer
        } else if d.contains("bytea") || d.contains("blob") {
            Self::Bytes
        } else if d.contains("real") || d.contains("double") || d.contains("numeric") {
            Self::Real
        } else {
            Self::Text
        }
    }
}

/// The tables of `db` (not the migrations' own).
async fn tables_of(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    let sql = match db.engine {
        Engine::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations' ORDER BY name"
        }
        Engine::Postgres => {
            // `::text`: the Any driver knows no `name` or `sql_identifier` type.
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name <> '_sqlx_migrations' ORDER BY table_name"
        }
    };
    sqlx::query(sql)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| r.try_get("name"))
        .collect()
}

/// The columns of `table` in `db` with the kind of each.
async fn columns_of(db: &Db, table: &str) -> Result<Vec<(String, Kind)>, sqlx::Error> {
    let rows = match db.engine {
        Engine::Sqlite => {
            sqlx::query("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(&db.pool)
                .await?
        }
        Engine::Postgres => {
            sqlx::query(
                "SELECT column_name::text AS name, data_type::text AS type FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(&db.pool)
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("name")?,
                Kind::of(&r.try_get::<String, _>("type")?),
            ))
        })
        .collect()
}

async fn count(db: &Db, table: &str) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(&db.pool)
        .await?
        .try_get("n")
}

/// How many rows each table holds: what the copy will carry.
pub async fn counts(db: &Db) -> Result<Vec<(&'static str, i64)>, CopyError> {
    if let Some(unknown) = tables_of(db)
        .await?
        .into_iter()
        .find(|t| !TABLES.contains(&t.as_str()))
    {
        return Err(CopyError::UnknownTable(unknown));
    }
    let mut out = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        out.push((*table, count(db, table).await?));
    }
    Ok(out)
}

/// Refuses a target that holds anything but the migrations' seeds.
async fn check_empty(target: &Db) -> Result<(), CopyError> {
    for table in TABLES.iter().filter(|t| !SEEDED.contains(t)) {
        let rows = count(target, table).await?;
        if rows > 0 {
            return Err(CopyError::TargetNotEmpty {
                table: (*table).to_owned(),
                rows,
            });
        }
    }
    Ok(())
}

/// Copies every row of `source` into `target` (already migrated), calling `progress(table,
/// rows copied, rows in all)` after each batch; then compares every table's count.
pub async fn copy(
    source: &Db,
    target: &Db,
    mut progress: impl FnMut(&str, u64, u64),
) -> Result<Vec<(&'static str, i64)>, CopyError> {
    let expected = counts(source).await?;
    check_empty(target).await?;
    // The seeds go before anything is copied, those that reference others first.
    for table in TABLES.iter().rev().filter(|t| SEEDED.contains(t)) {
        let sql = format!("DELETE FROM {table}");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&target.pool)
            .await?;
    }
    for (table, total) in &expected {
        let columns = columns_of(target, table).await?;
        let names: Vec<&str> = columns.iter().map(|(n, _)| n.as_str()).collect();
        let list = names.join(", ");
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({list}) VALUES ({})",
            placeholders.join(", ")
        );
        let select = format!("SELECT {list} FROM {table}");
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(select)).fetch(&source.pool);
        let mut done: u64 = 0;
        let mut tx = target.begin().await?;
        let mut in_batch = 0;
        while let Some(row) = rows.try_next().await? {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            for (i, (_, kind)) in columns.iter().enumerate() {
                query = match kind {
                    Kind::Integer => query.bind(row.try_get::<Option<i64>, _>(i)?),
                    Kind::Text => query.bind(row.try_get::<Option<String>, _>(i)?),
                    Kind::Bytes => query.bind(row.try_get::<Option<Vec<u8>>, _>(i)?),
                    Kind::Real => query.bind(row.try_get::<Option<f64>, _>(i)?),
                };
            }
            query.execute(&mut *tx).await?;
            done += 1;
            in_batch += 1;
            if in_batch == BATCH {
                tx.commit().await?;
                tx = target.begin().await?;
                in_batch = 0;
                progress(table, done, u64::try_from(*total).unwrap_or(0));
            }
        }
        tx.commit().await?;
        progress(table, done, u64::try_from(*total).unwrap_or(0));
    }
    for (table, source_rows) in &expected {
        let target_rows = count(target, table).await?;
        if target_rows != *source_rows {
            return Err(CopyError::CountMismatch {
                table: (*table).to_owned(),
                source_rows: *source_rows,
                target_rows,
            });
        }
    }
    Ok(expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_of_both_engines_map_to_kinds() {
        assert_eq!(Kind::of("BIGINT"), Kind::Integer);
        assert_eq!(Kind::of("bigint"), Kind::Integer);
        assert_eq!(Kind::of("TEXT"), Kind::Text);
        assert_eq!(Kind::of("character varying"), Kind::Text);
        assert_eq!(Kind::of("BLOB"), Kind::Bytes);
        assert_eq!(Kind::of("bytea"), Kind::Bytes);
        assert_eq!(Kind::of("double precision"), Kind::Real);
    }
}
