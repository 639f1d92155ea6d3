//! The e-mails of sign-up (`002` §3.2) and of the password reset (`002` §5.2).

use askama::Template;

use super::common::*;
use crate::accounts::email::Email;
use crate::mail::MailError;

#[derive(Template)]
#[template(path = "mail_signup_code.txt")]
struct SignupCodeText<'a> {
    subject: &'a str,
    greeting: &'a str,
    code: &'a str,
    validity: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "mail_signup_code.html")]
struct SignupCodeHtml<'a> {
    subject: &'a str,
    greeting: &'a str,
    code: &'a str,
    validity: &'a str,
    link: &'a str,
}

/// Sign-up, step 2: the validation `code` (6 digits, valid [`SIGNUP_CODE_TTL`]) and the
/// button opening step 2 with it filled in (`link_token`: an opaque token of the pending code,
/// never the address).
pub fn signup_code(
    base_url: &str,
    to: &Email,
    code: &str,
    link_token: &str,
) -> Result<Outgoing, MailError> {
    let subject = "Validation de votre compte EFP CONNECT";
    let greeting = greeting(None);
    let validity = hours(SIGNUP_CODE_TTL);
    let link = token_link(base_url, SIGNUP_LINK_PATH, link_token);
    compose(
        MessageKind::SignupCode,
        to,
        subject,
        &SignupCodeText {
            subject,
            greeting: &greeting,
            code,
            validity: &validity,
            link: &link,
        },
        &SignupCodeHtml {
            subject,
            greeting: &greeting,
            code,
            validity: &validity,
            link: &link,
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
    let link = token_link(base_url, RESET_LINK_PATH, link_token);
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
