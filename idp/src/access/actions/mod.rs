//! The access use cases, one file each (see `crate::action`).

// --- Service administration (helper "platform") ---
pub mod service_add_role;
pub mod service_create;
pub mod service_link_client;
pub mod service_publish;
