//! What every action shares: the frame of its one transaction, and how it says no.
//!
//! An action (`<domain>/actions/<use_case>.rs`) is one use case: it takes typed input and the
//! clock, opens one transaction, applies its domain's rules (`<domain>/rules.rs`), writes, records
//! its audit event in that same transaction, commits, and returns a typed outcome or a typed
//! refusal. It never sees HTTP. The page, the JSON API and the CLI call the same action and only
//! render its refusal differently: the French message on pages, the stable [`Refusal::code`] as
//! the JSON `error`, the same code as the audit's `reason`.
//!
//! [`in_one_transaction`] is that frame. An action that records several events, or a refusal on
//! its own, runs its transaction itself and writes each [`Event`] with [`Event::record_in`].

use crate::{audit, store::Db};

/// How an HTTP layer should answer a refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// The input cannot be accepted (400).
    Invalid,
    /// This person or client may not do this (403).
    Forbidden,
    /// No such thing, or none this person may see (404).
    NotFound,
    /// The thing is not in a state that allows it (409).
    Conflict,
    /// Too many tries (429).
    TooMany,
    /// Storage failed: logged, shown as a generic message (500).
    Internal,
}

/// A typed refusal of an action: a French message (its `Display`) and a stable code.
pub trait Refusal: std::fmt::Display + std::fmt::Debug {
    /// The stable code: the JSON API's `error`, the audit's `reason`, the CLI's error kind.
    fn code(&self) -> &'static str;
    /// How HTTP answers it.
    fn kind(&self) -> RefusalKind;
    /// For a [`RefusalKind::TooMany`]: how long until a new try may succeed (`Retry-After`).
    fn retry_after(&self) -> Option<std::time::Duration> {
        None
    }
}

/// The audit event an action records with its change (see [`crate::audit`]).
#[derive(Debug)]
pub struct Event {
    actor: String,
    action: &'static str,
    target: String,
    details: serde_json::Value,
}

impl Event {
    /// `actor` did `action` to `target` (a user id, a SIRET, a client id, a key id…).
    pub fn new(actor: impl Into<String>, action: &'static str, target: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            action,
            target: target.into(),
            details: serde_json::json!({}),
        }
    }

    /// With these facts (never a secret).
    #[must_use]
    pub fn with(self, details: serde_json::Value) -> Self {
        Self { details, ..self }
    }

    /// Writes it at `at` in the transaction of the change it records, for an action that
    /// records more than one event or runs its own transaction.
    pub async fn record_in(
        self,
        conn: &mut sqlx::AnyConnection,
        at: i64,
    ) -> Result<(), sqlx::Error> {
        audit::record(
            conn,
            at,
            &self.actor,
            self.action,
            &self.target,
            self.details,
        )
        .await
    }
}

/// The frame of an action: `work` applies the rules and writes inside one transaction and hands
/// back its outcome with the event that records it; the event is written at `at` in that same
/// transaction, which then commits. A refusal or a failure drops the transaction: nothing is
/// written, the event neither.
pub async fn in_one_transaction<T, E>(
    db: &Db,
    at: i64,
    work: impl AsyncFnOnce(&mut sqlx::AnyConnection) -> Result<(T, Event), E>,
) -> Result<T, E>
where
    E: From<sqlx::Error>,
{
    let mut tx = db.begin().await?;
    let (outcome, event) = work(&mut tx).await?;
    event.record_in(&mut tx, at).await?;
    tx.commit().await?;
    Ok(outcome)
}
