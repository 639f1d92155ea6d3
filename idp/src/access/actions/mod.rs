//! The access use cases, one file each (see `crate::action`).

pub mod accept_charte;
pub mod add_habilitation;
pub mod assign_own_habilitations;
pub mod designate_manager;
pub mod grant_habilitation;
pub mod issue_code;
pub mod look_up_invitee;
pub mod redeem_code;
pub mod remove_habilitation;
pub mod revoke_code;
pub mod withdraw_manager;

// --- Service administration (helper "platform") ---
pub mod service_add_role;
pub mod service_create;
pub mod service_link_client;
pub mod service_publish;
