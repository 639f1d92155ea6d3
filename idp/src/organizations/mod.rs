//! Organisations: the companies and establishments people work for, identified by their
//! SIREN (company) and SIRET (establishment), and the local SIRENE register that names them
//! (`register`), filled from INSEE's files (`import`) and, on a miss, its API (`insee`).

pub mod import;
pub mod insee;
pub mod picker;
pub mod register;
pub mod siret;

pub use register::{Establishment, Query, SearchPage};
pub use siret::{Siren, SirenError, Siret};
