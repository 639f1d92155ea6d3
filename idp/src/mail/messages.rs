//! One function per e-mail the provider sends. Each renders a text and an HTML template
//! (`templates/mail_*.txt`, `templates/mail_*.html`) in French, following the texts of the
//! ministry's guide (`002`, §3.2 sign-up and §5.2 password reset).
//!
//! Links are absolute, built from the public base URL (the `issuer`, base of every URL we
//! publish) and the paths below: the journeys that receive them serve these paths.

use std::{fmt, time::Duration};

use askama::Template;

use super::MailError;
use crate::accounts::email::Email;

/// How long a sign-up validation code is valid, as the e-mail states it ("1 heure").
pub const SIGNUP_CODE_TTL: Duration = Duration::from_secs(3600);
/// How long a password-reset code and link are valid, as the e-mail states it ("24 heures").
pub const RESET_CODE_TTL: Duration = Duration::from_secs(24 * 3600);

/// The login page.
pub const LOGIN_PATH: &str = "/connexion";
pub use crate::accounts::reset::{RESET_LINK_PATH, RESET_START_PATH};
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
            Self::EmailChangeTaken => "email_change_taken",
            Self::EmailChanged => "email_changed",
            Self::AccountDeleted => "account_deleted",
            Self::HabilitationGranted => "habilitation_granted",
            Self::HabilitationRemoved => "habilitation_removed",
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

fn greeting(name: Option<&str>) -> String {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(name) => format!("Bonjour {name},"),
        None => "Bonjour,".to_owned(),
    }
}

/// "1 heure", "24 heures": validity periods are whole hours.
fn hours(ttl: Duration) -> String {
    match ttl.as_secs() / 3600 {
        1 => "1 heure".to_owned(),
        n => format!("{n} heures"),
    }
}

pub(crate) fn absolute(base_url: &str, path: &str) -> String {
    format!("{}{path}", base_url.trim_end_matches('/'))
}

fn compose(
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

#[derive(Template)]
#[template(path = "mail_signup_code.txt")]
struct SignupCodeText<'a> {
    subject: &'a str,
    greeting: &'a str,
    code: &'a str,
    validity: &'a str,
}

#[derive(Template)]
#[template(path = "mail_signup_code.html")]
struct SignupCodeHtml<'a> {
    subject: &'a str,
    greeting: &'a str,
    code: &'a str,
    validity: &'a str,
}

/// Sign-up, step 2: the validation `code` (6 digits, valid [`SIGNUP_CODE_TTL`]).
pub fn signup_code(to: &Email, code: &str) -> Result<Outgoing, MailError> {
    let subject = "Validation de votre compte EFP CONNECT";
    let greeting = greeting(None);
    let validity = hours(SIGNUP_CODE_TTL);
    compose(
        MessageKind::SignupCode,
        to,
        subject,
        &SignupCodeText {
            subject,
            greeting: &greeting,
            code,
            validity: &validity,
        },
        &SignupCodeHtml {
            subject,
            greeting: &greeting,
            code,
            validity: &validity,
        },
    )
}

#[derive(Template)]
#[template(path = "mail_password_reset.txt")]
struct PasswordResetText<'a> {
    subject: &'a str,
    greeting: &'a str,
    code: &'a str,
    validity: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "mail_password_reset.html")]
struct PasswordResetHtml<'a> {
    subject: &'a str,
    greeting: &'a str,
    code: &'a str,
    validity: &'a str,
    link: &'a str,
}

/// Password reset, step 2: the single-use `code` (6 digits) and a link carrying `link_token`
/// (an opaque token of the reset request, never the address), both valid [`RESET_CODE_TTL`].
/// `name` ("Alice Martin") personalises the greeting when the account has one.
pub fn password_reset(
    base_url: &str,
    to: &Email,
    name: Option<&str>,
    code: &str,
    link_token: &str,
) -> Result<Outgoing, MailError> {
    let subject = "Réinitialisation du mot de passe de votre compte EFP Connect";
    let greeting = greeting(name);
    let validity = hours(RESET_CODE_TTL);
    let link = format!(
        "{}?{}",
        absolute(base_url, RESET_LINK_PATH),
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("jeton", link_token)
            .finish()
    );
    compose(
        MessageKind::PasswordReset,
        to,
        subject,
        &PasswordResetText {
            subject,
            greeting: &greeting,
            code,
            validity: &validity,
            link: &link,
        },
        &PasswordResetHtml {
            subject,
            greeting: &greeting,
            code,
            validity: &validity,
            link: &link,
        },
    )
}

#[derive(Template)]
#[template(path = "mail_account_exists.txt")]
struct AccountExistsText<'a> {
    subject: &'a str,
    greeting: &'a str,
    login_link: &'a str,
    reset_link: &'a str,
}

#[derive(Template)]
#[template(path = "mail_account_exists.html")]
struct AccountExistsHtml<'a> {
    subject: &'a str,
    greeting: &'a str,
    login_link: &'a str,
    reset_link: &'a str,
}

/// Sent instead of the sign-up code when the address already has an account: the stranger at
/// the sign-up form sees the same page either way, and only the owner of the address learns it.
pub fn account_exists(base_url: &str, to: &Email) -> Result<Outgoing, MailError> {
    let subject = "Création de compte EFP Connect : vous avez déjà un compte";
    let greeting = greeting(None);
    let login_link = absolute(base_url, LOGIN_PATH);
    let reset_link = absolute(base_url, RESET_START_PATH);
    compose(
        MessageKind::AccountExists,
        to,
        subject,
        &AccountExistsText {
            subject,
            greeting: &greeting,
            login_link: &login_link,
            reset_link: &reset_link,
        },
        &AccountExistsHtml {
            subject,
            greeting: &greeting,
            login_link: &login_link,
            reset_link: &reset_link,
        },
    )
}

#[derive(Template)]
#[template(path = "mail_account_created.txt")]
struct AccountCreatedText<'a> {
    subject: &'a str,
    greeting: &'a str,
    login_link: &'a str,
}

#[derive(Template)]
#[template(path = "mail_account_created.html")]
struct AccountCreatedHtml<'a> {
    subject: &'a str,
    greeting: &'a str,
    login_link: &'a str,
}

/// Sign-up done: the account exists, with a link to the login page (`002` §3.2, step 12).
pub fn account_created(
    base_url: &str,
    to: &Email,
    name: Option<&str>,
) -> Result<Outgoing, MailError> {
    let subject = "Votre compte EFP Connect a été créé";
    let greeting = greeting(name);
    let login_link = absolute(base_url, LOGIN_PATH);
    compose(
        MessageKind::AccountCreated,
        to,
        subject,
        &AccountCreatedText {
            subject,
            greeting: &greeting,
            login_link: &login_link,
        },
        &AccountCreatedHtml {
            subject,
            greeting: &greeting,
            login_link: &login_link,
        },
    )
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

/// The password was changed from the account pages: every other session was ended.
pub fn password_changed(
    base_url: &str,
    to: &Email,
    name: Option<&str>,
) -> Result<Outgoing, MailError> {
    notice(
        MessageKind::PasswordChanged,
        to,
        "Votre mot de passe a été modifié",
        name,
        &[
            "Le mot de passe de votre compte EFP Connect vient d'être modifié depuis la page « Gérer mon compte ».".into(),
            "Par sécurité, vos autres sessions ont été fermées : reconnectez-vous avec votre nouveau mot de passe sur vos autres appareils.".into(),
        ],
        "Gérer mon compte",
        &absolute(base_url, ACCOUNT_PATH),
        SUPPORT_LINE,
    )
}

/// E-mail change: the 6-digit `code` proving the new address (valid [`EMAIL_CHANGE_CODE_TTL`]).
pub fn email_change_code(
    to: &Email,
    name: Option<&str>,
    code: &str,
) -> Result<Outgoing, MailError> {
    let subject = "Changement d'adresse e-mail de votre compte EFP Connect";
    let greeting = greeting(name);
    let validity = hours(EMAIL_CHANGE_CODE_TTL);
    compose(
        MessageKind::EmailChangeCode,
        to,
        subject,
        &EmailChangeCodeText {
            subject,
            greeting: &greeting,
            code,
            validity: &validity,
        },
        &EmailChangeCodeHtml {
            subject,
            greeting: &greeting,
            code,
            validity: &validity,
        },
    )
}

#[derive(Template)]
#[template(path = "mail_email_change_code.txt")]
struct EmailChangeCodeText<'a> {
    subject: &'a str,
    greeting: &'a str,
    code: &'a str,
    validity: &'a str,
}

#[derive(Template)]
#[template(path = "mail_email_change_code.html")]
struct EmailChangeCodeHtml<'a> {
    subject: &'a str,
    greeting: &'a str,
    code: &'a str,
    validity: &'a str,
}

/// Sent instead of the code when the new address already has an account: the person asking
/// sees the same pages either way, only the owner of the address learns why no code came.
pub fn email_change_taken(base_url: &str, to: &Email) -> Result<Outgoing, MailError> {
    notice(
        MessageKind::EmailChangeTaken,
        to,
        "Changement d'adresse e-mail vers un compte EFP Connect existant",
        None,
        &[
            "Une demande a été faite pour utiliser votre adresse e-mail comme nouvelle adresse d'un compte EFP Connect.".into(),
            "Cette adresse est déjà celle d'un compte EFP Connect : la modification n'est pas possible et aucun code n'a été envoyé. Votre compte n'a pas été modifié.".into(),
        ],
        "Se connecter",
        &absolute(base_url, LOGIN_PATH),
        "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.",
    )
}

/// E-mail change done: tells the previous address which address replaced it.
pub fn email_changed(
    base_url: &str,
    to: &Email,
    name: Option<&str>,
    new_email: &Email,
) -> Result<Outgoing, MailError> {
    notice(
        MessageKind::EmailChanged,
        to,
        "L'adresse e-mail de votre compte EFP Connect a été modifiée",
        name,
        &[format!(
            "L'adresse e-mail de votre compte EFP Connect a été remplacée par {new_email}. Cette adresse-ci ne permet plus de vous connecter et ne recevra plus nos messages."
        )],
        "Se connecter",
        &absolute(base_url, LOGIN_PATH),
        SUPPORT_LINE,
    )
}

/// The account was deleted by its owner.
pub fn account_deleted(
    base_url: &str,
    to: &Email,
    name: Option<&str>,
) -> Result<Outgoing, MailError> {
    notice(
        MessageKind::AccountDeleted,
        to,
        "Votre compte EFP Connect a été supprimé",
        name,
        &[
            "Votre compte EFP Connect a été supprimé à votre demande, ainsi que vos informations personnelles, vos sessions et vos autorisations d'accès aux services numériques.".into(),
            "Pour utiliser à nouveau les services numériques du ministère, vous pourrez créer un nouveau compte.".into(),
        ],
        "Créer un compte",
        &absolute(base_url, "/inscription"),
        "Si vous n'êtes pas à l'origine de cette suppression, contactez sans attendre l'assistance EFP Connect de votre service numérique.",
    )
}

/// What the access-request e-mails say about the request.
#[derive(Clone, Debug)]
pub struct AccessRequestMail<'a> {
    /// The service's label (`CERES`).
    pub service_label: &'a str,
    /// « Madame Alice Martin (alice@centre.fr) ».
    pub requester: &'a str,
    /// « CENTRE DE FORMATION DU LAC (SIRET 13002526500013) ».
    pub establishment: &'a str,
    /// The requester's message, possibly empty.
    pub message: &'a str,
}

/// « Nouvelle demande d'accès au service numérique CERES », to one Responsable des accès:
/// `link` is the absolute URL of the request's page.
pub fn access_requested(
    to: &Email,
    manager_name: Option<&str>,
    request: &AccessRequestMail<'_>,
    link: &str,
) -> Result<Outgoing, MailError> {
    let subject = format!(
        "Nouvelle demande d'accès au service numérique {}",
        request.service_label
    );
    let mut lines = vec![format!(
        "{} demande un accès au service numérique {} pour l'établissement {}, dont vous êtes responsable des accès.",
        request.requester, request.service_label, request.establishment
    )];
    let message = request.message.trim();
    if !message.is_empty() {
        lines.push(format!("Message du demandeur : « {message} »"));
    }
    lines.push(
        "Vous pouvez accepter cette demande en choisissant le rôle et, si besoin, une date de fin, ou la refuser.".into(),
    );
    notice(
        MessageKind::AccessRequested,
        to,
        &subject,
        manager_name,
        &lines,
        "Traiter la demande",
        link,
        "Si vous ne connaissez pas cette personne, refusez la demande : elle n'obtiendra aucun accès.",
    )
}

/// « Votre demande d'accès au service numérique CERES a été acceptée »: `role`, `end`
/// (« jusqu'au 30/06/2025 » or « sans date de fin ») and where to go (`link`).
pub fn access_request_accepted(
    to: &Email,
    name: Option<&str>,
    request: &AccessRequestMail<'_>,
    role: &str,
    end: &str,
    link: &str,
) -> Result<Outgoing, MailError> {
    let subject = format!(
        "Votre demande d'accès au service numérique {} a été acceptée",
        request.service_label
    );
    notice(
        MessageKind::AccessRequestAccepted,
        to,
        &subject,
        name,
        &[
            format!(
                "Votre responsable des accès a accepté votre demande : vous avez accès au service numérique {} en tant que « {role} » pour l'établissement {}, {end}.",
                request.service_label, request.establishment
            ),
            format!(
                "Vous pouvez désormais vous connecter au service numérique {} avec votre compte EFP Connect.",
                request.service_label
            ),
        ],
        &format!("Accéder au service numérique {}", request.service_label),
        link,
        "Si vous n'êtes pas à l'origine de cette demande, contactez l'assistance EFP Connect de votre service numérique.",
    )
}

/// « Votre demande d'accès au service numérique CERES a été refusée », with the manager's
/// `reason` when they gave one.
pub fn access_request_refused(
    to: &Email,
    name: Option<&str>,
    request: &AccessRequestMail<'_>,
    reason: &str,
    link: &str,
) -> Result<Outgoing, MailError> {
    let subject = format!(
        "Votre demande d'accès au service numérique {} a été refusée",
        request.service_label
    );
    let mut lines = vec![format!(
        "Votre responsable des accès a refusé votre demande d'accès au service numérique {} pour l'établissement {}.",
        request.service_label, request.establishment
    )];
    let reason = reason.trim();
    if !reason.is_empty() {
        lines.push(format!("Motif : « {reason} »"));
    }
    lines.push("Si vous pensez qu'il s'agit d'une erreur, rapprochez-vous du responsable des accès de votre établissement.".into());
    notice(
        MessageKind::AccessRequestRefused,
        to,
        &subject,
        name,
        &lines,
        "Se connecter à EFP Connect",
        link,
        "Ce message vous est envoyé automatiquement à la suite du traitement de votre demande.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Email {
        Email::parse("alice@centre.fr").unwrap()
    }

    #[test]
    fn the_signup_code_mail_follows_the_guide() {
        let m = signup_code(&alice(), "764906").unwrap();
        assert_eq!(m.subject, "Validation de votre compte EFP CONNECT");
        for body in [&m.text, &m.html] {
            assert!(body.contains("764906"));
            assert!(body.contains("Ce code expirera dans 1 heure."));
            assert!(body.contains("merci de saisir le code de validation ci-dessous"));
        }
        assert!(m.html.contains("<html lang=\"fr\">"));
    }

    #[test]
    fn the_reset_mail_carries_the_code_and_a_link_on_the_base_url() {
        let m = password_reset(
            "https://connexion.example.gouv.fr/",
            &alice(),
            Some("Alice Martin"),
            "596922",
            "tok+en/1",
        )
        .unwrap();
        assert_eq!(
            m.subject,
            "Réinitialisation du mot de passe de votre compte EFP Connect"
        );
        let link = "https://connexion.example.gouv.fr/mot-de-passe-oublie/lien?jeton=tok%2Ben%2F1";
        assert!(m.text.contains(link), "{}", m.text);
        assert!(m.html.contains(&format!("href=\"{link}\"")), "{}", m.html);
        assert!(m.text.contains("Bonjour Alice Martin,"));
        assert!(m.text.contains("Il expirera au bout de 24 heures."));
        // The address stays out of the link (it would end up in proxy and browser logs).
        assert!(!m.text.contains("alice@centre.fr"));
    }

    #[test]
    fn text_parts_are_not_html_escaped_and_html_parts_are() {
        let m =
            account_created("http://localhost:8080", &alice(), Some("Jeanne D'Arc <b>")).unwrap();
        assert!(m.text.contains("Bonjour Jeanne D'Arc <b>,"));
        assert!(m.text.contains("d'accéder"));
        assert!(m.html.contains("Bonjour Jeanne D"));
        assert!(!m.html.contains("<b>"));
        assert!(!m.html.contains("D'Arc"));
        assert!(m.text.contains("http://localhost:8080/connexion"));
    }

    #[test]
    fn the_account_exists_mail_points_to_login_and_reset() {
        let m = account_exists("http://localhost:8080", &alice()).unwrap();
        assert!(m.text.contains("http://localhost:8080/connexion"));
        assert!(m.text.contains("http://localhost:8080/mot-de-passe-oublie"));
        assert!(m.text.contains("aucun autre compte n'a été créé"));
    }

    #[test]
    fn the_account_notices_say_what_changed_and_whom_to_contact() {
        let new = Email::parse("alice@nouveau.fr").unwrap();
        let m = email_changed(
            "http://localhost:8080",
            &alice(),
            Some("Alice Martin"),
            &new,
        )
        .unwrap();
        assert_eq!(
            m.subject,
            "L'adresse e-mail de votre compte EFP Connect a été modifiée"
        );
        assert!(m.text.contains("alice@nouveau.fr"));
        assert!(m.text.contains(SUPPORT_LINE));
        assert!(m.html.contains("alice@nouveau.fr"));
        let m = password_changed("http://localhost:8080", &alice(), None).unwrap();
        assert_eq!(m.subject, "Votre mot de passe a été modifié");
        assert!(m.text.contains("http://localhost:8080/compte"));
        let m = email_change_code(&new, None, "123456").unwrap();
        assert!(m.text.contains("123456") && m.html.contains("123456"));
        let m = account_deleted("http://localhost:8080", &alice(), None).unwrap();
        assert_eq!(m.subject, "Votre compte EFP Connect a été supprimé");
    }

    #[test]
    fn debug_shows_neither_recipient_nor_body() {
        let m = signup_code(&alice(), "764906").unwrap();
        let debug = format!("{m:?}");
        assert!(!debug.contains("alice"));
        assert!(!debug.contains("764906"));
    }
}
