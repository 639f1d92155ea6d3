//! Passwords: the rules a new password must meet, and argon2id hashing bounded by a
//! concurrency limit so a flood of logins queues or is shed instead of exhausting memory.

use std::sync::Arc;

use argon2::{
    Argon2,
    password_hash::{PasswordHasher as _, PasswordVerifier, phc::PasswordHash},
};
use tokio::sync::Semaphore;

/// A password that meets the rules: at least 12 characters and 3 of the 4 classes
/// (lower case, upper case, digit, special).
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Why a new password is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    /// Fewer than 12 characters.
    #[error("Le mot de passe doit comporter au moins 12 caractères.")]
    TooShort,
    /// Fewer than 3 character classes.
    #[error(
        "Le mot de passe doit contenir au moins 3 des 4 types de caractères : minuscule, majuscule, chiffre, caractère spécial."
    )]
    TooFewClasses,
    /// Absurdly long (protects the hasher).
    #[error("Le mot de passe ne peut dépasser 128 caractères.")]
    TooLong,
}

/// Minimum length of a new password.
pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 128;

impl Password {
    /// Checks a new password against the rules.
    pub fn parse(input: &str) -> Result<Self, PasswordError> {
        let chars = input.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(PasswordError::TooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(PasswordError::TooLong);
        }
        let classes = [
            input.chars().any(|c| c.is_lowercase()),
            input.chars().any(|c| c.is_uppercase()),
            input.chars().any(|c| c.is_ascii_digit()),
            input.chars().any(|c| !c.is_alphanumeric()),
        ];
        if classes.iter().filter(|&&b| b).count() < 3 {
            return Err(PasswordError::TooFewClasses);
        }
        Ok(Self(input.to_owned()))
    }

    /// The clear text, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The hasher is saturated: the caller answers 503.
#[derive(Debug, thiserror::Error)]
#[error("service momentanément surchargé")]
pub struct Overloaded;

/// argon2id with OWASP parameters (m=19 MiB, t=2, p=1), at most `concurrency` hashes at once.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    queue: Arc<Semaphore>,
    /// A hash of a random password, verified when the account does not exist so that both
    /// cases cost the same time.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// A hasher running `concurrency` hashes at once with `queue` waiting.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let dummy = hash_blocking(&uuid::Uuid::new_v4().to_string());
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            queue: Arc::new(Semaphore::new(concurrency + queue)),
            dummy_hash: dummy.into(),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Overloaded> {
        let _in_line = self
            .queue
            .clone()
            .try_acquire_owned()
            .map_err(|_| Overloaded)?;
        let _permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Overloaded)?;
        tokio::task::spawn_blocking(f).await.map_err(|_| Overloaded)
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &Password) -> Result<String, Overloaded> {
        let clear = password.expose().to_owned();
        self.run(move || hash_blocking(&clear)).await
    }

    /// Whether `clear` matches `phc`; with `None`, spends the same time and answers `false`.
    pub async fn verify(&self, clear: &str, phc: Option<&str>) -> Result<bool, Overloaded> {
        let clear = clear.to_owned();
        let (phc, real) = match phc {
            Some(p) => (p.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        self.run(move || {
            let ok = PasswordHash::new(&phc)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(clear.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false);
            ok && real
        })
        .await
    }
}

fn hash_blocking(clear: &str) -> String {
    Argon2::default()
        .hash_password(clear.as_bytes())
        .expect("argon2id with default parameters")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_say_which_one_failed() {
        assert_eq!(
            Password::parse("Court1!").unwrap_err(),
            PasswordError::TooShort
        );
        assert_eq!(
            Password::parse("toutenminuscules").unwrap_err(),
            PasswordError::TooFewClasses
        );
        assert_eq!(
            Password::parse("minusculesETMAJ").unwrap_err(),
            PasswordError::TooFewClasses
        );
        assert!(Password::parse("minusculesETMAJ7").is_ok());
        assert!(Password::parse("minuscules-et-7").is_ok());
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hasher = PasswordHasher::new(1, 1);
        let pw = Password::parse("Correct-Horse-42").unwrap();
        let phc = hasher.hash(&pw).await.unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(hasher.verify("Correct-Horse-42", Some(&phc)).await.unwrap());
        assert!(!hasher.verify("correct-horse-42", Some(&phc)).await.unwrap());
        assert!(!hasher.verify("Correct-Horse-42", None).await.unwrap());
    }
}
