//! One function per e-mail the provider sends. Each renders a text and an HTML template
//! (`templates/mail_*.txt`, `templates/mail_*.html`) in French, following the texts of the
//! ministry's guide (`002`, §3.2 sign-up and §5.2 password reset).
//!
//! Links are absolute, built from the public base URL (the `issuer`, base of every URL we
//! publish) and the paths below: the journeys that receive them serve these paths.

use std::{fmt, time::Duration};

use askama::Template;

use super::MailError;
use crate::accounts::Email;

/// How long a sign-up validation code is valid, as the e-mail states it ("1 heure").
pub const SIGNUP_CODE_TTL: Duration = Duration::from_secs(3600);
/// How long a password-reset code and link are valid, as the e-mail states it ("24 heures").
pub const RESET_CODE_TTL: Duration = Duration::from_secs(24 * 3600);

/// The login page.
pub const LOGIN_PATH: &str = "/connexion";
/// The start of the password-reset journey (e-mail + anti-robot check).
pub const RESET_START_PATH: &str = "/mot-de-passe-oublie";
/// Where the reset link leads, with the request's token in `jeton`.
pub const RESET_LINK_PATH: &str = "/mot-de-passe-oublie/lien";

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
}

impl MessageKind {
    /// The name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignupCode => "signup_code",
            Self::PasswordReset => "password_reset",
            Self::AccountExists => "account_exists",
            Self::AccountCreated => "account_created",
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

fn absolute(base_url: &str, path: &str) -> String {
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
    fn debug_shows_neither_recipient_nor_body() {
        let m = signup_code(&alice(), "764906").unwrap();
        let debug = format!("{m:?}");
        assert!(!debug.contains("alice"));
        assert!(!debug.contains("764906"));
    }
}
