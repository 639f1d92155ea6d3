//! One function per e-mail the provider sends. Each renders a text and an HTML template
//! (`templates/mail_*.txt`, `templates/mail_*.html`) in French, following the texts of the
//! ministry's guide (`002`, §3.2 sign-up and §5.2 password reset).
//!
//! Links are absolute, built from the public base URL (the `issuer`, base of every URL we
//! publish) and the paths below: the journeys that receive them serve these paths.

mod access;
mod account;
mod common;
mod signup;

pub use access::*;
pub use account::*;
pub use common::*;
pub use signup::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::email::Email;

    fn alice() -> Email {
        Email::parse("alice@centre.fr").unwrap()
    }

    fn alices_code() -> Outgoing {
        signup_code(
            "https://connect.example",
            &alice(),
            "764906",
            "jeton-du-lien",
        )
        .unwrap()
    }

    #[test]
    fn the_signup_code_mail_follows_the_guide() {
        let m = alices_code();
        assert_eq!(m.subject, "Validation de votre compte EFP CONNECT");
        for body in [&m.text, &m.html] {
            assert!(body.contains("764906"));
            assert!(body.contains("Ce code expirera dans 1 heure."));
            assert!(body.contains("merci de saisir le code de validation ci-dessous"));
            assert!(body.contains("https://connect.example/inscription/lien?jeton=jeton-du-lien"));
        }
        assert!(
            m.html
                .contains("Vous pouvez également cliquer sur le bouton ci-dessous")
        );
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
        let m = alices_code();
        let debug = format!("{m:?}");
        assert!(!debug.contains("alice"));
        assert!(!debug.contains("764906"));
    }
}
