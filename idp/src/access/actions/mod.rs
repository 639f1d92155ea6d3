//! The access use cases, one file each (see `crate::action`).

pub mod accept_charte;
pub mod assign_own_habilitations;
pub mod issue_code;
pub mod redeem_code;
pub mod revoke_code;

// --- Service administration (helper "platform") ---
pub mod service_add_role;
pub mod service_create;
pub mod service_link_client;
pub mod service_publish;
