//! Storage: the durable database (SQLite or PostgreSQL) and the short-lived shared store
//! (in-process or Redis).

pub mod copy;
pub mod db;
pub mod ephemeral;

pub use db::Db;
pub use ephemeral::Ephemeral;

/// Seconds since the Unix epoch: how every timestamp is stored, on both engines.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
