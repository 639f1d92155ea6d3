//! The access use cases, one file each (see `crate::action`).

pub mod accept_charte;
pub mod assign_own_habilitations;
pub mod issue_code;
pub mod redeem_code;
pub mod revoke_code;
