//! A professional e-mail address, parsed once.

use std::fmt;

use unicode_normalization::UnicodeNormalization;
use unicode_security::{MixedScript, confusable_detection::skeleton};

/// An e-mail address: trimmed, folded to its compatibility form (NFKC: full-width letters become
/// ordinary ones), lower-cased, one `@`, a dotted domain, nothing the mailer would refuse, and no
/// part that could pass for another address (mixed alphabets, invisible characters, look-alikes).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Email(String);

/// Why a string is not an e-mail address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EmailError {
    /// Empty input.
    #[error("Veuillez saisir votre adresse e-mail.")]
    Empty,
    /// Not of the form `nom@domaine.fr`.
    #[error("Le format de l'adresse e-mail est invalide (exemple : nom@domaine.fr).")]
    Malformed,
    /// Mixes alphabets, or is written in another alphabet with letters that look like Latin ones:
    /// such an address could pass for someone else's (a Cyrillic « а » in a manager's address).
    #[error(
        "Cette adresse e-mail contient des caractères d'alphabets différents ou qui imitent des lettres latines : saisissez-la en caractères latins."
    )]
    Confusable,
}

impl Email {
    /// Parses user input.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        // Folded again after lower-casing: a folded form may hold capitals (« ㎒ » is « MHz »)
        // and a lower-cased one may not be folded, and a parsed address must re-parse to itself.
        let s: String = input
            .trim()
            .nfkc()
            .collect::<String>()
            .to_lowercase()
            .nfkc()
            .collect();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err(EmailError::Malformed);
        };
        let valid = !local.is_empty()
            && local.len() <= 64
            && s.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@')
            && !s.chars().any(|c| {
                c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
            })
            // Beyond ASCII only letters and digits: this refuses the invisible ones (zero-width
            // space, joiners, direction marks, soft hyphen), which the mailer refuses too.
            && s.chars().all(|c| c.is_ascii() || c.is_alphanumeric())
            // What the mailer accepts is what we accept: an address it refuses would be an
            // account that can never get its codes.
            && lettre::Address::new(local, domain).is_ok();
        if !valid {
            return Err(EmailError::Malformed);
        }
        if [local, domain].into_iter().any(could_pass_for_another) {
            return Err(EmailError::Confusable);
        }
        Ok(Self(s))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A part of an address that mixes alphabets (Latin with Cyrillic « а »), or is written in
/// another alphabet while looking like plain ASCII (UTS #39 skeleton): both let an address pass
/// for another one. Accented Latin (« hélène ») is neither.
fn could_pass_for_another(part: &str) -> bool {
    if part.is_ascii() {
        return false;
    }
    !part.is_single_script() || skeleton(part).all(|c| c.is_ascii())
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse("  Alice@Centre.FR ").unwrap().as_str(),
            "alice@centre.fr"
        );
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in [
            "alice",
            "alice@",
            "@centre.fr",
            "alice@centre",
            "a b@centre.fr",
            "a@centre..fr",
            "a@b@c.fr",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Malformed), "{bad}");
        }
        assert_eq!(Email::parse("  "), Err(EmailError::Empty));
    }

    #[test]
    fn full_width_letters_are_folded() {
        assert_eq!(
            Email::parse("ａｌｉｃｅ@ｃｅｎｔｒｅ.ｆｒ")
                .unwrap()
                .as_str(),
            "alice@centre.fr"
        );
    }

    #[test]
    fn invisible_characters_are_refused() {
        for bad in [
            "ali\u{200b}ce@centre.fr",
            "alice@cen\u{200d}tre.fr",
            "al\u{00ad}ice@centre.fr",
            "alice\u{202e}@centre.fr",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn look_alikes_are_refused() {
        // Cyrillic « а » among Latin letters, and a whole-Cyrillic part that reads as Latin.
        for bad in [
            "\u{430}dmin@centre.fr",
            "admin@c\u{435}ntre.fr",
            "\u{430}\u{441}\u{435}@centre.fr",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Confusable), "{bad:?}");
        }
    }

    #[test]
    fn accented_latin_addresses_are_kept() {
        assert_eq!(
            Email::parse("Hélène.Dupré@société.fr").unwrap().as_str(),
            "hélène.dupré@société.fr"
        );
    }

    #[test]
    fn what_the_mailer_refuses_is_refused() {
        for bad in ["a..b@centre.fr", ".alice@centre.fr", "alice@-centre.fr"] {
            assert_eq!(Email::parse(bad), Err(EmailError::Malformed), "{bad}");
        }
    }
}
