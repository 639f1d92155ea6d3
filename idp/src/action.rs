//! What every action shares: how it says no.
//!
//! An action (`<domain>/actions/<use_case>.rs`) is one use case: it takes typed input and the
//! clock, opens one transaction, applies its domain's rules (`<domain>/rules.rs`), writes, records
//! its audit event in that same transaction, commits, and returns a typed outcome or a typed
//! refusal. It never sees HTTP. The page, the JSON API and the CLI call the same action and only
//! render its refusal differently: the French message on pages, the stable [`Refusal::code`] as
//! the JSON `error`, the same code as the audit's `reason`.

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
}
