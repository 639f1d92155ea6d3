//! Step 3 of sign-up: the password, typed twice. Beyond [`Password::parse`]'s rules, a new
//! account's password may not contain its e-mail's local part nor a very common password.

use askama::Template;
use axum::{extract::State, http::HeaderMap, http::StatusCode, response::Response};
use base64::Engine as _;
use serde::Deserialize;

use super::{At, Frame, Posted, Step, reply, reply_with};
use crate::{
    AppState,
    accounts::{
        Email, Password,
        password::{ContainsName, check_not_name},
    },
    error::PageError,
};

/// Very common passwords and password stems, refused anywhere in a new password (compared in
/// lower case): what guessing lists try first, French ones included.
pub const COMMON_PASSWORDS: &[&str] = &[
    "123456",
    "abcdef",
    "azerty",
    "qwerty",
    "password",
    "motdepasse",
    "passw0rd",
    "bonjour",
    "soleil",
    "doudou",
    "loulou",
    "marseille",
    "nicolas",
    "chocolat",
    "iloveyou",
    "welcome",
    "admin",
    "efpconnect",
    "ministere",
    "travail",
];

/// Why a password is refused at sign-up.
#[derive(Debug, PartialEq, Eq)]
pub enum SignupPasswordError {
    /// One of [`Password::parse`]'s rules.
    Rule(String),
    /// It contains the address's local part or a part of it.
    ContainsEmail,
    /// It contains a common password.
    Common,
    /// It contains the person's nom or prénom.
    ContainsName,
}

impl std::fmt::Display for SignupPasswordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rule(message) => f.write_str(message),
            Self::ContainsEmail => f.write_str(
                "Le mot de passe ne doit pas contenir votre adresse e-mail ni une partie de celle-ci.",
            ),
            Self::Common => f.write_str(
                "Ce mot de passe est trop courant et serait deviné facilement : choisissez-en un autre.",
            ),
            Self::ContainsName => std::fmt::Display::fmt(&ContainsName, f),
        }
    }
}

/// What [`parse_new_password`] refuses, as the hint of the sign-up's password field (guide
/// `002` §3.2 words the first sentence): change it with the rule.
pub const SIGNUP_PASSWORD_RULES: &str = "Votre mot de passe doit contenir au moins 12 caractères, respectant 3 des 4 critères suivants : une minuscule, une majuscule, un chiffre et un caractère spécial. Il ne doit pas contenir votre adresse e-mail (ni une partie de celle-ci) ni un mot de passe courant, ni votre nom ni votre prénom.";

/// The sign-up rules: [`Password::parse`], then the address, the common passwords and the
/// `names` ([`check_not_name`]; none yet at step 3 of a first pass, step 4 checks them then).
pub fn parse_new_password(
    input: &str,
    email: &Email,
    names: &[&str],
) -> Result<Password, SignupPasswordError> {
    let password = Password::parse(input).map_err(|e| SignupPasswordError::Rule(e.to_string()))?;
    let lower = input.to_lowercase();
    let local = email.as_str().split('@').next().unwrap_or_default();
    // The whole local part, and each of its parts long enough to mean something
    // (jean.dupont → "dupont").
    let contains_email = std::iter::once(local)
        .chain(local.split(['.', '-', '_', '+']))
        .filter(|part| part.chars().count() >= 3)
        .any(|part| lower.contains(part));
    if contains_email {
        return Err(SignupPasswordError::ContainsEmail);
    }
    if COMMON_PASSWORDS.iter().any(|common| lower.contains(common)) {
        return Err(SignupPasswordError::Common);
    }
    check_not_name(input, names).map_err(|ContainsName| SignupPasswordError::ContainsName)?;
    Ok(password)
}

#[derive(Template)]
#[template(path = "signup_password.html")]
struct PasswordPage {
    f: Frame,
    /// A password is already saved (coming back with "Modifier").
    saved: bool,
}

/// `GET /inscription/mot-de-passe`: step 3.
pub async fn show(
    State(state): State<AppState>,
    At(session): At<{ Step::Password as u8 }>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let mut f = session.frame(&state, &headers, Step::Password);
    if session.journey.password_contains_name {
        f = f.with_error("password", SignupPasswordError::ContainsName.to_string());
    }
    let mut page = PasswordPage {
        f,
        saved: session.journey.password_hash.is_some(),
    };
    reply(page.f.take_cookies(), &page)
}

/// Fields of step 3 (also of the password reset's last step).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PasswordForm {
    pub(crate) csrf: String,
    pub(crate) password: String,
    pub(crate) confirmation: String,
}

/// `POST /inscription/mot-de-passe`: checks and hashes the password, goes to step 4.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Posted(mut session, form): Posted<{ Step::Password as u8 }, PasswordForm>,
) -> Result<Response, PageError> {
    let Some(email) = session.email() else {
        return Ok(session.redirect(Step::Email.path()));
    };
    let names = session.journey.names();
    let error = match parse_new_password(&form.password, &email, &names) {
        Err(e) => Some(("password", e.to_string())),
        Ok(_) if form.password != form.confirmation => Some((
            "confirmation",
            "Les mots de passe ne correspondent pas.".to_owned(),
        )),
        Ok(password) => {
            session.journey.password_hash = Some(state.hasher.hash(&password).await?);
            session.journey.sealed_password = Some(seal(&state, &password));
            session.journey.password_contains_name = false;
            None
        }
    };
    if let Some((field, message)) = error {
        let mut page = PasswordPage {
            f: session
                .frame(&state, &headers, Step::Password)
                .with_error(field, message),
            saved: session.journey.password_hash.is_some(),
        };
        return reply_with(page.f.take_cookies(), &page, StatusCode::BAD_REQUEST);
    }
    session.save(&state).await?;
    Ok(session.redirect(session.journey.next_step().path()))
}

fn seal(state: &AppState, password: &Password) -> String {
    let sealed = state
        .kek
        .seal(super::SEALED_PASSWORD_KID, password.expose().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sealed)
}

/// Whether the password chosen at step 3 contains `names` (step 4's check). A password that
/// cannot be opened (the KEK changed meanwhile) counts as containing them: step 3 asks again.
pub fn sealed_contains_names(state: &AppState, sealed: Option<&str>, names: &[&str]) -> bool {
    let opened = sealed
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .and_then(|raw| state.kek.open(super::SEALED_PASSWORD_KID, &raw).ok())
        .and_then(|plain| String::from_utf8(plain).ok());
    match opened {
        Some(password) => check_not_name(&password, names).is_err(),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jean() -> Email {
        Email::parse("jean.dupont@entreprise.fr").unwrap()
    }

    #[test]
    fn each_sign_up_rule_says_why() {
        assert!(matches!(
            parse_new_password("Court1!", &jean(), &[]),
            Err(SignupPasswordError::Rule(_))
        ));
        assert_eq!(
            parse_new_password("Dupont-2024-Paris", &jean(), &[]).unwrap_err(),
            SignupPasswordError::ContainsEmail
        );
        assert_eq!(
            parse_new_password("Azerty-Tulipe-42", &jean(), &[]).unwrap_err(),
            SignupPasswordError::Common
        );
        assert_eq!(
            parse_new_password("Tulipe-Éloïse-42", &jean(), &["Martin", "Eloise"]).unwrap_err(),
            SignupPasswordError::ContainsName
        );
        assert!(parse_new_password("Tulipe-Orage-42", &jean(), &["Martin", "Eloise"]).is_ok());
    }
}

crate::with_csrf!(PasswordForm);
