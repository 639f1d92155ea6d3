//! Organisations: the companies and establishments people work for, identified by their
//! SIREN (company) and SIRET (establishment). The register search arrives later.

pub mod siret;

pub use siret::{Siren, SirenError, Siret};
