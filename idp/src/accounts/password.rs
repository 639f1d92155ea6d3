//! Passwords: the rules a new password must meet, and argon2id hashing on a fixed pool of
//! threads so a flood of logins queues or is shed instead of exhausting memory.

use std::sync::{Arc, Mutex, mpsc};

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{PasswordHasher as _, phc::PasswordHash},
};
use tokio::sync::{Semaphore, oneshot};

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

/// What [`Password::parse`] asks, as the hint under every new-password field that it alone
/// checks (the `new_password` macro's default): change it with the rule.
pub const PASSWORD_RULES: &str = "Au moins 12 caractères, dont 3 des 4 types suivants : une minuscule, une majuscule, un chiffre et un caractère spécial. Il ne doit contenir ni votre nom ni votre prénom.";

/// Why a password is refused by [`check_not_name`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Le mot de passe ne doit contenir ni votre nom ni votre prénom.")]
pub struct ContainsName;

/// Names shorter than this are not looked for: « Li » or « Ba » would forbid too many
/// passwords for no gain.
pub const MIN_NAME_LETTERS: usize = 3;

/// The guide's rule (`002` §3.2): a password must not contain the person's nom or prénom,
/// whatever the case and the accents (« Éloïse » is found in « eloise-2026 »). Each word of a
/// compound name (« Jean-Pierre », « Le Gall ») of [`MIN_NAME_LETTERS`] letters or more counts
/// alone, and so does the whole name without its separators.
pub fn check_not_name(password: &str, names: &[&str]) -> Result<(), ContainsName> {
    let compact = |s: &str| crate::organizations::register::fold(s).replace(' ', "");
    let folded = compact(password);
    let found = names.iter().any(|name| {
        let words = crate::organizations::register::fold(name);
        std::iter::once(compact(name))
            .chain(words.split(' ').map(str::to_owned))
            .filter(|part| part.chars().count() >= MIN_NAME_LETTERS)
            .any(|part| folded.contains(&part))
    });
    if found { Err(ContainsName) } else { Ok(()) }
}

/// Minimum length of a new password.
pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 128;

impl Password {
    /// A password that just verified against a stored hash, to hash again with today's
    /// parameters: the rules of [`Password::parse`] are for new passwords, and an imported
    /// account's may predate them.
    pub fn from_verified(clear: &str) -> Self {
        Self(clear.to_owned())
    }

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

/// A piece of hashing work, given the memory of the thread that runs it.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// argon2id with OWASP parameters (m=19 MiB, t=2, p=1), at most `concurrency` hashes at once.
///
/// The hashes run on `concurrency` threads of their own, each keeping its 19 MiB of argon2
/// memory from one verification to the next. Allocating it per call (what `verify_password`
/// does) on tokio's blocking threads let glibc's allocator keep the freed blocks: the resident
/// memory climbed past 1 GiB under a login flood (bench/run.py). Reused, it stays at
/// `concurrency` × 19 MiB, and no time goes to faulting fresh pages in.
#[derive(Clone)]
pub struct PasswordHasher {
    jobs: mpsc::Sender<Job>,
    /// Hashes running or waiting; past `concurrency + queue` the caller is shed at once.
    queue: Arc<Semaphore>,
    /// A hash of a random password, verified when the account does not exist so that both
    /// cases cost the same time.
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// A hasher running `concurrency` hashes at once with `queue` waiting.
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let dummy = hash_blocking(&uuid::Uuid::new_v4().to_string());
        let (jobs, received) = mpsc::channel::<Job>();
        let received = Arc::new(Mutex::new(received));
        for n in 0..concurrency.max(1) {
            let received = Arc::clone(&received);
            // The threads end when the last hasher (and so the last sender) is dropped.
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    let mut memory = Vec::new();
                    loop {
                        let job = match received.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error.message = %e, "argon2 thread not started");
            }
        }
        Self {
            jobs,
            queue: Arc::new(Semaphore::new(concurrency.max(1) + queue)),
            dummy_hash: dummy.into(),
        }
    }

    /// Whether a hash asked now would be shed. Lets a flood be answered before any database or
    /// store work is spent on it; `run` still decides for real.
    pub fn is_saturated(&self) -> bool {
        self.queue.available_permits() == 0
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, Overloaded> {
        let _in_line = self
            .queue
            .clone()
            .try_acquire_owned()
            .map_err(|_| Overloaded)?;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            // A caller that went while it waited in line (its client disconnected: hyper
            // drops the request's future) is not hashed for: under a flood, clients that
            // gave up would otherwise take the hashing from those still waiting.
            if done.is_closed() {
                return;
            }
            let _ = done.send(f(memory));
        });
        self.jobs.send(job).map_err(|_| Overloaded)?;
        result.await.map_err(|_| Overloaded)
    }

    /// The PHC string of `password`.
    pub async fn hash(&self, password: &Password) -> Result<String, Overloaded> {
        let clear = password.expose().to_owned();
        self.run(move |_| hash_blocking(&clear)).await
    }

    /// Whether `clear` matches `phc`; with `None`, spends the same time and answers `false`.
    pub async fn verify(&self, clear: &str, phc: Option<&str>) -> Result<bool, Overloaded> {
        let clear = clear.to_owned();
        let (phc, real) = match phc {
            Some(p) => (p.to_owned(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        self.run(move |memory| verify_in(memory, clear.as_bytes(), &phc) && real)
            .await
    }
}

/// The scheme of a stored hash: ours (argon2, any parameters), or one a previous system used
/// (accounts imported from « Mes démarches »: docs/administration.md, « Legacy accounts »).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashScheme {
    /// `$argon2id$`, `$argon2i$`, `$argon2d$` (PHC).
    Argon2,
    /// `$2a$`, `$2b$`, `$2y$` (bcrypt, modular crypt format).
    Bcrypt,
    /// `$pbkdf2-sha256$` (PHC).
    Pbkdf2Sha256,
}

impl HashScheme {
    /// The scheme of `stored`, if it is one we verify.
    pub fn of(stored: &str) -> Option<Self> {
        if stored.starts_with("$argon2") {
            Some(Self::Argon2)
        } else if ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| stored.starts_with(p))
        {
            Some(Self::Bcrypt)
        } else if stored.starts_with("$pbkdf2-sha256$") {
            Some(Self::Pbkdf2Sha256)
        } else {
            None
        }
    }

    /// Its name in the audit trail.
    pub fn name(self) -> &'static str {
        match self {
            Self::Argon2 => "argon2",
            Self::Bcrypt => "bcrypt",
            Self::Pbkdf2Sha256 => "pbkdf2-sha256",
        }
    }
}

/// Whether `stored` verifies and parses as a hash of its scheme (an import checks each row
/// with it before writing any).
pub fn is_well_formed(stored: &str) -> bool {
    match HashScheme::of(stored) {
        Some(HashScheme::Argon2 | HashScheme::Pbkdf2Sha256) => {
            PasswordHash::new(stored).is_ok_and(|h| h.salt.is_some() && h.hash.is_some())
        }
        Some(HashScheme::Bcrypt) => stored.len() == 60,
        None => false,
    }
}

/// Whether a hash that just verified should be replaced by one of today's: anything but
/// argon2id with the current parameters (a legacy scheme, or our own older parameters).
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let current = Params::default();
    parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(Version::V0x13.into())
        || Params::try_from(&parsed).map_or(true, |p| {
            (p.m_cost(), p.t_cost(), p.p_cost())
                != (current.m_cost(), current.t_cost(), current.p_cost())
        })
}

/// What `PasswordVerifier::verify_password` answers, computed in `memory` (grown to the
/// hash's parameters when it is too small) instead of a fresh allocation; the schemes of
/// imported accounts ([`HashScheme`]) by their own crates.
fn verify_in(memory: &mut Vec<Block>, clear: &[u8], phc: &str) -> bool {
    match HashScheme::of(phc) {
        Some(HashScheme::Argon2) => verify_argon2_in(memory, clear, phc),
        // bcrypt compares in constant time.
        Some(HashScheme::Bcrypt) => bcrypt::verify(clear, phc).unwrap_or(false),
        Some(HashScheme::Pbkdf2Sha256) => {
            use pbkdf2::password_hash::{PasswordVerifier, phc::PasswordHash as Phc};
            Phc::new(phc).is_ok_and(|h| pbkdf2::Pbkdf2::SHA256.verify_password(clear, &h).is_ok())
        }
        None => false,
    }
}

fn verify_argon2_in(memory: &mut Vec<Block>, clear: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = [0u8; 64];
    let Some(out) = out.get_mut(..expected.as_bytes().len()) else {
        return false;
    };
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(clear, salt, out, &mut memory[..blocks])
        .is_ok()
        && crate::secrets::constant_time_eq(out, expected.as_bytes())
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
    fn a_password_may_not_contain_the_name_whatever_the_case_and_accents() {
        let names = ["Dupont", "Éloïse"];
        assert_eq!(
            check_not_name("Tulipe-DUPONT-42", &names),
            Err(ContainsName)
        );
        assert_eq!(check_not_name("eloise-Orage-42", &names), Err(ContainsName));
        assert_eq!(check_not_name("ÉLOÏSE!Orage42", &names), Err(ContainsName));
        assert_eq!(check_not_name("Tulipe-Orage-42", &names), Ok(()));
        // Compound names: each long enough word, and the whole name joined.
        let compound = ["Le Gall", "Jean-Pierre"];
        assert_eq!(
            check_not_name("Orage-Gall-4242", &compound),
            Err(ContainsName)
        );
        assert_eq!(
            check_not_name("Orage-Pierre-42", &compound),
            Err(ContainsName)
        );
        assert_eq!(
            check_not_name("LEGALL-orage-42", &compound),
            Err(ContainsName)
        );
        // Two letters are not looked for.
        assert_eq!(check_not_name("Lion-Orage-4242", &["Li", "Ba"]), Ok(()));
    }

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

    #[test]
    fn reused_memory_verifies_like_the_crate_and_refuses_what_it_refuses() {
        use argon2::password_hash::PasswordVerifier;
        let phc = hash_blocking("Correct-Horse-42");
        let parsed = PasswordHash::new(&phc).unwrap();
        let mut memory = Vec::new();
        for (clear, right) in [("Correct-Horse-42", true), ("Correct-Horse-43", false)] {
            assert_eq!(
                Argon2::default()
                    .verify_password(clear.as_bytes(), &parsed)
                    .is_ok(),
                right
            );
            // Twice: the second time in the memory the first one left behind.
            assert_eq!(verify_in(&mut memory, clear.as_bytes(), &phc), right);
            assert_eq!(verify_in(&mut memory, clear.as_bytes(), &phc), right);
        }
        // Other parameters (m=8 MiB, t=1, argon2i) grow or reuse the same memory.
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"Autre-Mot-De-Passe-1")
        .unwrap()
        .to_string();
        assert!(verify_in(&mut memory, b"Autre-Mot-De-Passe-1", &other));
        assert!(!verify_in(&mut memory, b"Autre-Mot-De-Passe-2", &other));
        for bad in [
            "",
            "$argon2id$v=19$m=19456,t=2,p=1$",
            "pas un hachage",
            "$argon2id$v=99$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        ] {
            assert!(!verify_in(&mut memory, b"x", bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_caller_gone_while_in_line_is_not_hashed_for() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let hasher = PasswordHasher::new(1, 4);
        let (started, running) = oneshot::channel();
        let busy = hasher.clone();
        let busy = tokio::spawn(async move {
            busy.run(move |_| {
                let _ = started.send(());
                std::thread::sleep(std::time::Duration::from_millis(100));
            })
            .await
        });
        running.await.unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let (waiting, counted) = (hasher.clone(), Arc::clone(&ran));
        let gone = tokio::spawn(async move {
            waiting
                .run(move |_| {
                    counted.fetch_add(1, SeqCst);
                })
                .await
        });
        // In line behind the busy one: two of the five places taken.
        while hasher.queue.available_permits() > 3 {
            tokio::task::yield_now().await;
        }
        gone.abort();
        let _ = gone.await;
        busy.await.unwrap().unwrap();
        hasher.run(|_| ()).await.unwrap();
        assert_eq!(
            ran.load(SeqCst),
            0,
            "the job of a caller that went was skipped"
        );
    }

    #[tokio::test]
    async fn past_the_queue_the_caller_is_shed() {
        let hasher = PasswordHasher::new(1, 0);
        let phc = hash_blocking("Correct-Horse-42");
        let (a, b) = tokio::join!(
            hasher.verify("Correct-Horse-42", Some(&phc)),
            hasher.verify("Correct-Horse-42", Some(&phc)),
        );
        // One slot, no queue: of two at once, one is answered and the other shed.
        assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
        assert!(!hasher.is_saturated());
        assert!(hasher.verify("Correct-Horse-42", Some(&phc)).await.unwrap());
    }

    #[tokio::test]
    async fn imported_schemes_verify_and_ask_for_a_rehash_ours_does_not() {
        let hasher = PasswordHasher::new(1, 1);
        let bcrypt = bcrypt::hash("Ancien-secret-1", 4).unwrap();
        assert!(is_well_formed(&bcrypt));
        assert!(
            hasher
                .verify("Ancien-secret-1", Some(&bcrypt))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("ancien-secret-1", Some(&bcrypt))
                .await
                .unwrap()
        );
        // The PBKDF2-SHA256 vector of the pbkdf2 crate (RFC 7914 inputs).
        let pbkdf2 = "$pbkdf2-sha256$i=4096,l=40\
            $c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0\
            $NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+HGNVGMfaxH6Q";
        assert!(is_well_formed(pbkdf2));
        assert!(
            hasher
                .verify("passwordPASSWORDpassword", Some(pbkdf2))
                .await
                .unwrap()
        );
        assert!(!hasher.verify("password", Some(pbkdf2)).await.unwrap());
        let light = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"Ancien-secret-1")
        .unwrap()
        .to_string();
        assert!(
            hasher
                .verify("Ancien-secret-1", Some(&light))
                .await
                .unwrap()
        );
        for legacy in [bcrypt.as_str(), pbkdf2, light.as_str()] {
            assert!(needs_rehash(legacy), "{legacy}");
        }
        let ours = hasher
            .hash(&Password::parse("Correct-Horse-42").unwrap())
            .await
            .unwrap();
        assert!(!needs_rehash(&ours));
        assert_eq!(HashScheme::of("$md5$abc"), None);
        assert!(!is_well_formed("$2b$short"));
    }
}
