//! Accounts: who people are and how they prove it (e-mail, password, sessions, login page).

pub mod account;
pub mod email;
pub mod login;
pub mod password;
pub mod reset;
pub mod session;
pub mod signup;
pub mod store;
pub mod totp;

pub use email::Email;
pub use password::{Password, PasswordHasher};
