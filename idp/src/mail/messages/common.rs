//! What every e-mail shares: the validity periods and paths they state, the kind that logs
//! name, the composed message, and the notice shape of the account and access e-mails.

use std::{fmt, time::Duration};

use askama::Template;

use crate::accounts::email::Email;
use crate::mail::MailError;

/// How long a sign-up validation code is valid, as the e-mail states it ("1 heure").
pub const SIGNUP_CODE_TTL: Duration = Duration::from_secs(3600);
/// How long a password-reset code and link are valid, as the e-mail states it ("24 heures").
pub const RESET_CODE_TTL: Duration = Duration::from_secs(24 * 3600);

/// The login page.
pub const LOGIN_PATH: &str = "/connexion";
pub use crate::accounts::reset::{RESET_LINK_PATH, RESET_START_PATH};
/// The sign-up code e-mail's button (step 2 with the code filled in).
pub use crate::accounts::signup::code::LINK_PATH as SIGNUP_LINK_PATH;
/// The account pages (« Gérer mon compte »).
pub const ACCOUNT_PATH: &str = "/compte";
/// How long an e-mail change code is valid, as the e-mail states it ("1 heure").
pub const EMAIL_CHANGE_CODE_TTL: Duration = Duration::from_secs(3600);
/// Whom to write to when a change was not made by the account's owner.
pub const SUPPORT_LINE: &str = "Si vous n'êtes pas à l'origine de cette modification, contactez sans attendre l'assistance EFP Connect de votre service numérique et réinitialisez votre mot de passe.";

/// Which e-mail a message is: logs name this instead of the recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// Sign-up, step 2: the 6-digit validation code.
    SignupCode,
    /// Password reset, step 2: the code and the link.
    PasswordReset,
    /// Someone tried to sign up with an address that already has an account.
    AccountExists,
    /// Sign-up done: the account exists.
    AccountCreated,
    /// The password was changed from the account pages.
    PasswordChanged,
    /// E-mail change: the 6-digit code sent to the new address.
    EmailChangeCode,
    /// A login from a browser the account has not used yet: the 6-digit code confirming it.
    BrowserCode,
    /// E-mail change towards an address that already has an account.
    EmailChangeTaken,
    /// E-mail change done: sent to the previous address.
    EmailChanged,
    /// The account was deleted by its owner.
    AccountDeleted,
    /// A Responsable des accès gave the person a habilitation.
    HabilitationGranted,
    /// A Responsable des accès removed one of the person's habilitations.
    HabilitationRemoved,
    /// The person was made Responsable des accès by a colleague.
    ManagerGranted,
    /// The person's Responsable des accès right was removed.
    ManagerRemoved,
    /// A habilitation's last day was changed.
    HabilitationChanged,
    /// An access request, sent to each Responsable des accès of the establishment.
    AccessRequested,
    /// An access request was accepted: sent to the requester.
    AccessRequestAccepted,
    /// An access request was refused: sent to the requester.
    AccessRequestRefused,
    /// A Responsable des accès invited the person (habilitations, and a link to log in or to
    /// choose a first password).
    Invitation,
}

impl MessageKind {
    /// The name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignupCode => "signup_code",
            Self::PasswordReset => "password_reset",
            Self::AccountExists => "account_exists",
            Self::AccountCreated => "account_created",
            Self::PasswordChanged => "password_changed",
            Self::EmailChangeCode => "email_change_code",
            Self::BrowserCode => "browser_code",
            Self::EmailChangeTaken => "email_change_taken",
            Self::EmailChanged => "email_changed",
            Self::AccountDeleted => "account_deleted",
            Self::HabilitationGranted => "habilitation_granted",
            Self::HabilitationRemoved => "habilitation_removed",
            Self::HabilitationChanged => "habilitation_changed",
            Self::ManagerGranted => "manager_granted",
            Self::ManagerRemoved => "manager_removed",
            Self::AccessRequested => "access_requested",
            Self::AccessRequestAccepted => "access_request_accepted",
            Self::AccessRequestRefused => "access_request_refused",
            Self::Invitation => "invitation",
        }
    }
}

/// A composed e-mail, ready for [`super::Mailer::send`].
#[derive(Clone)]
pub struct Outgoing {
    /// Which e-mail this is.
    pub kind: MessageKind,
    /// The recipient.
    pub to: Email,
    /// The subject.
    pub subject: String,
    /// The `text/plain` alternative.
    pub text: String,
    /// The `text/html` alternative.
    pub html: String,
}

// By hand: the recipient and the bodies (codes, links) must not reach a log through `{:?}`.
impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

pub(super) fn greeting(name: Option<&str>) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("Bonjour {name},"),
        None => "Bonjour,".to_owned(),
    }
}

/// "1 heure", "24 heures": validity periods are whole hours.
pub(super) fn hours(ttl: Duration) -> String {
    match ttl.as_secs() / 3600 {
        1 => "1 heure".to_owned(),
        n => format!("{n} heures"),
    }
}

pub(crate) fn absolute(base_url: &str, path: &str) -> String {
    format!("{}{path}", base_url.trim_end_matches('/'))
}

/// `base_url` + `path` + `?jeton=<token>`: the link of an e-mail that stands for its code.
pub(crate) fn token_link(base_url: &str, path: &str, token: &str) -> String {
    format!(
        "{}?{}",
        absolute(base_url, path),
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("jeton", token)
            .finish()
    )
}

pub(super) fn compose(
    kind: MessageKind,
    to: &Email,
    subject: &str,
    text: &impl Template,
    html: &impl Template,
) -> Result<Outgoing, MailError> {
    Ok(Outgoing {
        kind,
        to: to.clone(),
        subject: subject.to_owned(),
        text: text.render()?,
        html: html.render()?,
    })
}

/// A notice with a greeting and one link: the e-mails of the account pages share this shape.
#[derive(Template)]
#[template(path = "mail_account_notice.txt")]
struct NoticeText<'a> {
    subject: &'a str,
    greeting: &'a str,
    lines: &'a [String],
    link_label: &'a str,
    link: &'a str,
    warning: &'a str,
}

#[derive(Template)]
#[template(path = "mail_account_notice.html")]
struct NoticeHtml<'a> {
    subject: &'a str,
    greeting: &'a str,
    lines: &'a [String],
    link_label: &'a str,
    link: &'a str,
    warning: &'a str,
}

/// Composes a notice: `lines` are paragraphs, then a link (`link_label`: `link`), then a
/// `warning` in grey.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site per e-mail, each naming every part"
)]
pub(crate) fn notice(
    kind: MessageKind,
    to: &Email,
    subject: &str,
    name: Option<&str>,
    lines: &[String],
    link_label: &str,
    link: &str,
    warning: &str,
) -> Result<Outgoing, MailError> {
    let greeting = greeting(name);
    compose(
        kind,
        to,
        subject,
        &NoticeText {
            subject,
            greeting: &greeting,
            lines,
            link_label,
            link,
            warning,
        },
        &NoticeHtml {
            subject,
            greeting: &greeting,
            lines,
            link_label,
            link,
            warning,
        },
    )
}
