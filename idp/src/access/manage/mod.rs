//! « Gérer les accès de mon entreprise » (guide `002` §6): the Responsable des accès lists
//! the users of their establishments, opens one, adds and removes habilitations, designates
//! or removes a Responsable des accès. Everything is limited to the establishments the
//! person manages for this service, with the current charte accepted: anything else is 403
//! and changes nothing.

pub mod person;
pub mod requests;
pub mod users;
