//! The access use cases, one file each (see `crate::action`).

// --- helper "manage": what a Responsable des accès does for their establishments ---
pub mod add_habilitation;
pub mod designate_manager;
pub mod finish_invitation;
pub mod remove_habilitation;
pub mod withdraw_manager;
