//! A professional e-mail address, parsed once.

use std::fmt;

/// An e-mail address: trimmed, lower-cased, one `@`, a dotted domain, no spaces.
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
}

impl Email {
    /// Parses user input.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let s = input.trim().to_lowercase();
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
            });
        if valid {
            Ok(Self(s))
        } else {
            Err(EmailError::Malformed)
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
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
}
