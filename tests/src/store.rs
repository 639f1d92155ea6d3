//! Reads and writes of the provider's tables that idp has no function for, kept here so the
//! tests name what they look at (« the refresh tokens », « the stored TOTP secret ») rather
//! than carry SQL.

use idp::store::db::Engine;

use crate::TestApp;

impl TestApp {
    /// How many rows of `table` belong to `user_id` (its `user_id` column).
    pub async fn rows_of_user(&self, table: &str, user_id: &str) -> i64 {
        assert!(
            table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "a plain table name: {table}"
        );
        self.count(
            &format!("SELECT count(*) FROM {table} WHERE user_id = $1"),
            user_id,
        )
        .await
    }

    /// How many refresh tokens are stored, of every grant.
    pub async fn refresh_token_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM refresh_tokens")
            .fetch_one(&self.state.db.pool)
            .await
            .expect("count the refresh tokens")
    }

    /// The TOTP secret of `user_id` as stored (sealed under the KEK).
    pub async fn stored_totp_secret(&self, user_id: &str) -> Vec<u8> {
        sqlx::query_scalar("SELECT secret FROM user_totp WHERE user_id = $1")
            .bind(user_id.to_owned())
            .fetch_one(&self.state.db.pool)
            .await
            .expect("a stored TOTP secret")
    }

    /// The text values `sql` (a query of one column, no parameter) reads, in its order.
    pub async fn strings(&self, sql: &'static str) -> Vec<String> {
        sqlx::query_scalar(sql)
            .fetch_all(&self.state.db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The keys of the revocation list, sorted.
    pub async fn revoked_keys(&self) -> Vec<String> {
        self.strings("SELECT key FROM revoked_tokens ORDER BY key")
            .await
    }

    /// Puts `key` on the revocation list until `until` (seconds).
    pub async fn add_revocation(&self, key: &str, until: i64) {
        sqlx::query("INSERT INTO revoked_tokens (key, until) VALUES ($1, $2)")
            .bind(key.to_owned())
            .bind(until)
            .execute(&self.state.db.pool)
            .await
            .expect("add a revocation");
    }

    /// Empties the signing key table, as a deployment that has made no key yet.
    pub async fn delete_signing_keys(&self) {
        self.execute("DELETE FROM signing_keys").await;
    }

    /// Runs `sql`, a trusted, test-written statement.
    pub async fn execute(&self, sql: &'static str) {
        sqlx::query(sql)
            .execute(&self.state.db.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The plan the database makes for `sql` (a trusted, test-written `SELECT`), one line a
    /// step; on PostgreSQL with sequential scans off, as a few dozen rows would rightly get one.
    pub async fn query_plan(&self, sql: &str) -> String {
        let lines: Vec<String> = match self.state.db.engine {
            Engine::Sqlite => {
                use sqlx::Row;
                sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(&self.state.db.pool)
                    .await
                    .expect("query plan")
                    .iter()
                    .map(|r| r.try_get::<String, _>("detail").expect("detail"))
                    .collect()
            }
            Engine::Postgres => {
                let mut conn = self.state.db.pool.acquire().await.expect("connection");
                sqlx::query("SET enable_seqscan = off")
                    .execute(&mut *conn)
                    .await
                    .expect("planner setting");
                sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}")))
                    .fetch_all(&mut *conn)
                    .await
                    .expect("query plan")
            }
        };
        lines.join("\n")
    }
}
