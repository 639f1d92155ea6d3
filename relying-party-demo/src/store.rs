//! CGU acceptances, CERES's own data: who (`sub`) accepted which version, and when. SQLite,
//! the table made at start-up.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// The demo's database.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating the file and its folder if needed) and prepares the database.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
        // The default `data/…` path: its folder may not exist on a fresh checkout.
        if let Some(parent) = options.get_filename().parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let pool = SqlitePool::connect_with(options).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS cgu_acceptances (\
               sub TEXT NOT NULL, \
               version TEXT NOT NULL, \
               accepted_at INTEGER NOT NULL, \
               PRIMARY KEY (sub, version))",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }

    /// Whether `sub` accepted CGU `version`.
    pub async fn has_accepted(&self, sub: &str, version: &str) -> Result<bool, sqlx::Error> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM cgu_acceptances WHERE sub = ? AND version = ?",
        )
        .bind(sub)
        .bind(version)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Records that `sub` accepted CGU `version` now (accepting twice changes nothing).
    pub async fn accept(&self, sub: &str, version: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO cgu_acceptances (sub, version, accepted_at) VALUES (?, ?, ?) \
             ON CONFLICT (sub, version) DO NOTHING",
        )
        .bind(sub)
        .bind(version)
        .bind(jiff::Timestamp::now().as_second())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_acceptance_counts_for_its_version_only() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("sub/ceres.db").display()
        );
        let store = Store::open(&url).await.expect("open");
        assert!(!store.has_accepted("u1", "2024-01").await.expect("db"));
        store.accept("u1", "2024-01").await.expect("db");
        store.accept("u1", "2024-01").await.expect("twice");
        assert!(store.has_accepted("u1", "2024-01").await.expect("db"));
        assert!(!store.has_accepted("u1", "2025-01").await.expect("db"));
        assert!(!store.has_accepted("u2", "2024-01").await.expect("db"));
    }
}
