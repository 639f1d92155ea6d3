//! The durable database. One `sqlx::AnyPool` so repository code is written once for SQLite and
//! PostgreSQL: queries use `$1` placeholders (both engines accept them) and portable types
//! (TEXT, BIGINT seconds, BLOB/BYTEA). Each engine has its own migrations folder.

use std::str::FromStr;

use sqlx::{AnyPool, any::AnyPoolOptions, migrate::Migrator};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which engine a [`Db`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Embedded file database, the default.
    Sqlite,
    /// Production database shared by the nodes of a cluster.
    Postgres,
}

impl Engine {
    /// Connections per node unless `database_max_connections` says otherwise: SQLite has one
    /// writer at a time, so a larger pool only queues on the file's lock.
    fn default_pool_size(self) -> u32 {
        match self {
            Self::Sqlite => 8,
            Self::Postgres => 16,
        }
    }
}

/// A pooled PostgreSQL connection idle this long is pinged before use ([`Db::connect_with`]).
const CHECK_IDLE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// The durable database pool.
#[derive(Clone, Debug)]
pub struct Db {
    /// Connection pool over either engine.
    pub pool: AnyPool,
    /// The engine behind the pool, for the rare query that differs.
    pub engine: Engine,
    /// Write transactions of this process take turns here on SQLite ([`Db::begin`]).
    writers: std::sync::Arc<tokio::sync::Mutex<()>>,
}

/// A write transaction ([`Db::begin`]): use it as the connection (`&mut *tx`), then
/// [`WriteTx::commit`]. Dropped without a commit, it rolls back.
pub struct WriteTx {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Commits, then lets the next writer in.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back, then lets the next writer in.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = sqlx::AnyConnection;

    fn deref(&self) -> &sqlx::AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut sqlx::AnyConnection {
        &mut self.tx
    }
}

/// Failure to open or migrate the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no engine we support.
    #[error("base de données non prise en charge : {0} (sqlite:// ou postgres://)")]
    UnsupportedUrl(String),
    /// The database could not be reached or opened.
    #[error("connexion à la base de données impossible : {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed.
    #[error("migration de la base de données impossible : {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Begins a transaction that will write. On SQLite, writers of this process take turns
    /// here first, then the write lock at once (`BEGIN IMMEDIATE`): SQLite has one writer at a
    /// time, and a writer that finds the lock taken is answered « busy » and retried by its
    /// busy handler after sleeps of up to 100 ms, which the bench saw as 130 ms p99 on the code
    /// flow. Waiting here instead wakes the next writer as soon as the lock is free. PostgreSQL
    /// locks rows, not the database: a plain `BEGIN`.
    pub async fn begin(&self) -> Result<WriteTx, sqlx::Error> {
        match self.engine {
            Engine::Sqlite => {
                let turn = self.writers.clone().lock_owned().await;
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx {
                    tx,
                    _turn: Some(turn),
                })
            }
            Engine::Postgres => Ok(WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
            }),
        }
    }

    /// The turn of one write statement run outside a transaction (atomic on its own): on
    /// SQLite, taken like [`Db::begin`]'s (held until the guard is dropped), for the same
    /// reason; on PostgreSQL, none.
    pub async fn write_turn(&self) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        match self.engine {
            Engine::Sqlite => Some(self.writers.clone().lock_owned().await),
            Engine::Postgres => None,
        }
    }

    /// Opens the database named by `url`, creating a SQLite file (and its folder) if needed,
    /// with the engine's default pool size.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        Self::connect_with(url, None).await
    }

    /// [`Db::connect`] with at most `max_connections` connections (`database_max_connections`).
    pub async fn connect_with(url: &str, max_connections: Option<u32>) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(redact(url)));
        };
        let mut options = AnyPoolOptions::new();
        if engine == Engine::Sqlite {
            ensure_sqlite_folder(url);
            // WAL and a busy timeout let concurrent requests of one node share the file.
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 5000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = NORMAL")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        // sqlx pings every connection it hands out by default: one more round trip per query
        // on PostgreSQL (the profile of 2026-12-05 found as many pings as statements) and one
        // more hop to the worker thread on SQLite. Only a connection idle long enough to have
        // been dropped by the server (a restart, a proxy's idle timeout) is checked now; one
        // in steady use shows a broken link at its next statement, as a request in flight would.
        options = options.test_before_acquire(false);
        if engine == Engine::Postgres {
            options = options.before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= CHECK_IDLE_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            });
        }
        let pool = options
            .max_connections(max_connections.unwrap_or(engine.default_pool_size()))
            .connect(url)
            .await
            .map_err(DbError::Connect)?;
        Ok(Self {
            pool,
            engine,
            writers: Default::default(),
        })
    }

    /// Applies the pending migrations of this engine.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self.engine {
            Engine::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Engine::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// `Ok` when the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

fn ensure_sqlite_folder(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        let _ = std::fs::create_dir_all(parent);
    }
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match url::Url::from_str(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_pool_size_is_the_configured_one_or_the_engines_default() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/idp.db?mode=rwc", dir.path().display());
        let db = Db::connect_with(&url, Some(3)).await.unwrap();
        assert_eq!(db.pool.options().get_max_connections(), 3);
        let db = Db::connect(&url).await.unwrap();
        assert_eq!(db.pool.options().get_max_connections(), 8);
    }
}
