//! Signing keys: generation, encryption at rest, the published key set, rotation.
//!
//! A key's life: created and published in the JWKS (pre-publication), signs from
//! `activates_at`, stops signing at `retired_at` (when a newer key takes over), stays published
//! until `remove_at` (longer than any token it signed can live), then leaves the JWKS.
//! `revoked_at` removes a compromised key at once.

pub mod actions;
pub mod kek;
pub mod keyset;
pub mod refusal;
pub mod rotation;
pub mod rules;
pub mod store;

pub use keyset::{KeySet, SharedKeySet, SigningAlg};
