//! Accounts: who people are and how they prove it (e-mail, password, sessions, login page).

pub mod email;
pub mod login;
pub mod password;
pub mod session;
pub mod store;

pub use email::Email;
pub use password::{Password, PasswordHasher};
