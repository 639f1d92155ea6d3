//! Access to the ministry's services: services (démarches) and their roles, habilitations,
//! the Responsable des accès right, activation codes. The claims of the `habilitations` scope
//! are read here; the OIDC layer only decides when to release them.

pub mod activation;
pub mod agent;
pub mod api;
pub mod claims;
pub mod codes;
pub mod commands;
pub mod dates;
pub mod habilitations;
pub mod invitations;
pub mod invite;
pub mod manage;
pub mod managers;
pub mod mine;
pub mod notices;
pub mod pages;
pub mod request_pages;
pub mod requests;
pub mod services;

pub use codes::ActivationCode;
pub use dates::EndDate;
