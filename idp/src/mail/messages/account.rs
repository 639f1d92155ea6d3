//! The notices of « Gérer mon compte »: password changed, e-mail change, account deleted.

use askama::Template;

use super::common::*;
use crate::accounts::email::Email;
use crate::mail::MailError;
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

/// A login from a browser the account has not used yet (`browser`, a short description, at
/// `when`): the 6-digit `code` confirming it, valid `validity`.
pub fn browser_code(
    to: &Email,
    name: Option<&str>,
    code: &str,
    browser: &str,
    when: &str,
    validity: &str,
) -> Result<Outgoing, MailError> {
    let subject = "Connexion à votre compte EFP Connect depuis un nouveau navigateur";
    let greeting = greeting(name);
    compose(
        MessageKind::BrowserCode,
        to,
        subject,
        &BrowserCodeText {
            subject,
            greeting: &greeting,
            code,
            browser,
            when,
            validity,
        },
        &BrowserCodeHtml {
            subject,
            greeting: &greeting,
            code,
            browser,
            when,
            validity,
        },
    )
}

#[derive(Template)]
#[template(path = "mail_browser_code.txt")]
struct BrowserCodeText<'a> {
    subject: &'a str,
    greeting: &'a str,
    code: &'a str,
    browser: &'a str,
    when: &'a str,
    validity: &'a str,
}

#[derive(Template)]
#[template(path = "mail_browser_code.html")]
struct BrowserCodeHtml<'a> {
    subject: &'a str,
    greeting: &'a str,
    code: &'a str,
    browser: &'a str,
    when: &'a str,
    validity: &'a str,
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
