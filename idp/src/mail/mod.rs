//! E-mail: composing the provider's messages in French (`messages`, askama templates in
//! `templates/`), sending them (`mailer`: SMTP or the local outbox), and the outbox viewer of
//! development and demonstration installs (`outbox`).

pub mod mailer;
pub mod messages;
pub mod outbox;

pub use mailer::{MailError, Mailer};
pub use messages::{MessageKind, Outgoing};
