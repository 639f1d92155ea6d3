//! SIREN and SIRET numbers, parsed once: digits only (spaces tolerated), the right length, and
//! the Luhn check — except for La Poste, whose establishments' SIRETs follow their own rule.

use std::fmt;

/// La Poste's SIREN: its establishments' SIRETs do not pass the Luhn check; instead the sum
/// of their digits is a multiple of 5 (INSEE's documented exception).
const LA_POSTE_SIREN: &str = "356000000";

/// A SIREN: 9 digits passing the Luhn check.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Siren(String);

/// A SIRET: 14 digits passing the Luhn check (La Poste's establishments excepted).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Siret(String);

/// Why a string is not a SIREN or a SIRET.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SirenError {
    /// Nothing typed.
    #[error("Veuillez saisir le numéro SIREN de l'entreprise.")]
    Empty,
    /// Not only digits (spaces aside).
    #[error("Le numéro SIREN ne doit contenir que des chiffres.")]
    NotDigits,
    /// Not 9 (SIREN) or 14 (SIRET) digits.
    #[error("Le numéro SIREN doit comporter 9 chiffres (ou 14 pour un SIRET).")]
    WrongLength,
    /// The check digit is wrong.
    #[error("Ce numéro SIREN n'existe pas : vérifiez sa saisie.")]
    BadChecksum,
}

/// The digits of `input` without spaces (ordinary, non-breaking and narrow no-break spaces).
fn digits(input: &str, len: usize) -> Result<String, SirenError> {
    let s: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if s.is_empty() {
        return Err(SirenError::Empty);
    }
    if !s.chars().all(|c| c.is_ascii_digit()) {
        return Err(SirenError::NotDigits);
    }
    if s.len() != len {
        return Err(SirenError::WrongLength);
    }
    Ok(s)
}

/// The Luhn check: from the right, every second digit doubled (minus 9 past 9), sum % 10 == 0.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn digit_sum(digits: &str) -> u32 {
    digits.bytes().map(|b| u32::from(b - b'0')).sum()
}

impl Siren {
    /// Parses user input: spaces removed, 9 digits, Luhn.
    pub fn parse(input: &str) -> Result<Self, SirenError> {
        let s = digits(input, 9)?;
        if luhn(&s) {
            Ok(Self(s))
        } else {
            Err(SirenError::BadChecksum)
        }
    }

    /// The 9 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Siret {
    /// Parses user input: spaces removed, 14 digits, Luhn — or, for La Poste, a digit sum
    /// that is a multiple of 5 (its head office 356 000 000 00048 passes Luhn as well).
    pub fn parse(input: &str) -> Result<Self, SirenError> {
        let s = digits(input, 14)?;
        let valid = luhn(&s) || (s.starts_with(LA_POSTE_SIREN) && digit_sum(&s).is_multiple_of(5));
        if valid {
            Ok(Self(s))
        } else {
            Err(SirenError::BadChecksum)
        }
    }

    /// The company the establishment belongs to: the first nine digits.
    pub fn siren(&self) -> Siren {
        Siren(self.0[..9].to_owned())
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Siren {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Siret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_sirens_are_accepted_with_or_without_spaces() {
        // DINUM, and La Poste.
        assert_eq!(Siren::parse("130025265").unwrap().as_str(), "130025265");
        assert_eq!(Siren::parse(" 130 025 265 ").unwrap().as_str(), "130025265");
        assert_eq!(Siren::parse("356000000").unwrap().as_str(), "356000000");
        // Renault SA.
        assert!(Siren::parse("441 639 465").is_ok());
    }

    #[test]
    fn a_wrong_check_digit_length_or_character_is_refused() {
        assert_eq!(Siren::parse("130025266"), Err(SirenError::BadChecksum));
        assert_eq!(Siren::parse("13002526"), Err(SirenError::WrongLength));
        assert_eq!(Siren::parse("1300252650"), Err(SirenError::WrongLength));
        assert_eq!(Siren::parse("13002526A"), Err(SirenError::NotDigits));
        assert_eq!(Siren::parse("   "), Err(SirenError::Empty));
    }

    #[test]
    fn real_sirets_are_accepted_and_give_their_siren() {
        let dinum = Siret::parse("130 025 265 00013").unwrap();
        assert_eq!(dinum.as_str(), "13002526500013");
        assert_eq!(dinum.siren(), Siren::parse("130025265").unwrap());
        assert_eq!(Siret::parse("13002526500014"), Err(SirenError::BadChecksum));
        assert_eq!(Siret::parse("130025265"), Err(SirenError::WrongLength));
    }

    #[test]
    fn la_poste_establishments_follow_the_multiple_of_five_rule() {
        // Head office: passes Luhn.
        let head = Siret::parse("356 000 000 00048").unwrap();
        assert_eq!(head.siren().as_str(), LA_POSTE_SIREN);
        // An establishment whose digits sum to 30: refused by Luhn, valid for La Poste.
        assert!(!luhn("35600000052135"));
        assert!(Siret::parse("35600000052135").is_ok());
        // Digit sum 31: refused.
        assert_eq!(Siret::parse("35600000052136"), Err(SirenError::BadChecksum));
        // The exception is La Poste's only: the same digits under another SIREN fail.
        assert!(!luhn("13002526552135"));
        assert_eq!(Siret::parse("13002526552135"), Err(SirenError::BadChecksum));
    }
}
