//! The OIDC use cases, one file each (see `crate::action`).

pub mod client_create;
pub mod client_delete;
pub mod client_rotate_secret;
pub mod client_update;
pub mod logout_queue;
