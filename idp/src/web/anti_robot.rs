//! The anti-robot check (« Je ne suis pas un robot ») of the login, sign-up and reset forms:
//! self-hosted, nothing fetched from another origin, verified here.
//!
//! - With JavaScript, an ALTCHA-style proof of work: the page carries a challenge
//!   `SHA-256(salt ‖ n)` for a secret `n` in `[0, max_number]`, signed with HMAC-SHA256; the
//!   salt ends with `?expires=<unix seconds>`, so the expiry is bound to the challenge.
//!   `/static/anti_robot.js` finds `n` by brute force and fills the hidden `altcha` field with
//!   base64 JSON `{algorithm, challenge, number, salt, signature}`.
//! - Without JavaScript, a small sum in French words (« Combien font sept plus cinq ? »); its
//!   answer is bound by HMAC to a signed, expiring token in a hidden field.
//!
//! Either solution works once: its challenge (or token nonce) is recorded with
//! `put_if_absent` in the shared store until it expires, across nodes. The HMAC key is derived
//! from the KEK with a label, so there is no other secret to keep.

use std::time::Duration;

use aws_lc_rs::{
    digest::{SHA256, digest},
    hmac,
    rand::{SecureRandom, SystemRandom},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde::Deserialize;

use crate::{AppState, error::PageError, secrets, store};

/// The message shown when the check fails; nothing else happens.
pub const FAILED: &str = "La vérification anti-robot a échoué. Veuillez réessayer.";

/// The only proof-of-work algorithm.
pub const ALGORITHM: &str = "SHA-256";

/// Label of the HMAC key derived from the KEK.
const KEY_LABEL: &str = "efp-connect/anti-robot/v1";

const NUMBERS_FR: [&str; 21] = [
    "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze",
    "douze", "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf", "vingt",
];

/// What a form page renders: the challenge for the script and the question for people
/// without JavaScript. `enabled == false` renders nothing.
#[derive(Clone, Debug, Default)]
pub struct AntiRobot {
    /// Whether the check is on.
    pub enabled: bool,
    /// Always [`ALGORITHM`].
    pub algorithm: &'static str,
    /// Hex SHA-256 of `salt ‖ n`.
    pub challenge: String,
    /// Random hex, then `?expires=<unix seconds>`.
    pub salt: String,
    /// Hex HMAC-SHA256 of `challenge`.
    pub signature: String,
    /// Upper bound of `n`: how far the script searches.
    pub max_number: u64,
    /// « Combien font sept plus cinq ? »
    pub question: String,
    /// Signed token binding the question's answer.
    pub question_token: String,
    /// When the previous answer failed the check: the id of the page's error alert, which
    /// then describes the question, marked invalid.
    pub failed: Option<&'static str>,
}

impl AntiRobot {
    /// Marks the question invalid, described by the alert `alert_id`, when the page's `error`
    /// is [`FAILED`].
    pub fn failed_if(mut self, error: Option<&str>, alert_id: &'static str) -> Self {
        self.failed = (error == Some(FAILED)).then_some(alert_id);
        self
    }
}

/// The fields every protected form sends (flattened into its form struct).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Fields {
    /// Base64 JSON solution of the proof of work (filled by the script).
    pub altcha: String,
    /// The question's signed token.
    pub robot_token: String,
    /// The answer typed to the question.
    pub robot_answer: String,
}

/// The solution the script sends.
#[derive(Deserialize)]
struct Solution {
    algorithm: String,
    challenge: String,
    number: u64,
    salt: String,
    signature: String,
}

/// The HMAC key of the check, derived from the KEK.
pub fn key(state: &AppState) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, &state.kek.derive(KEY_LABEL))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_below(bound: u64) -> u64 {
    let rng = SystemRandom::new();
    // Rejection sampling: every value equally likely.
    let zone = u64::MAX - (u64::MAX % bound);
    loop {
        let mut buf = [0u8; 8];
        rng.fill(&mut buf).expect("system randomness");
        let n = u64::from_be_bytes(buf);
        if n < zone {
            return n % bound;
        }
    }
}

/// Hex SHA-256 of `salt ‖ number`.
pub fn hash_challenge(salt: &str, number: u64) -> String {
    hex(digest(&SHA256, format!("{salt}{number}").as_bytes()).as_ref())
}

fn sign(key: &hmac::Key, message: &str) -> String {
    hex(hmac::sign(key, message.as_bytes()).as_ref())
}

fn question_mac(key: &hmac::Key, nonce: &str, expires: i64, answer: u64) -> String {
    sign(key, &format!("question:{nonce}:{expires}:{answer}"))
}

/// Authenticates the token itself, so only tokens we issued are recorded as spent.
fn token_tag(key: &hmac::Key, nonce: &str, expires: i64) -> String {
    sign(key, &format!("question-token:{nonce}:{expires}"))
}

/// A new challenge and question expiring at `expires` (unix seconds).
pub fn issue_at(key: &hmac::Key, max_number: u64, expires: i64) -> AntiRobot {
    let mut random = [0u8; 12];
    SystemRandom::new()
        .fill(&mut random)
        .expect("system randomness");
    let salt = format!("{}?expires={expires}", hex(&random));
    let number = random_below(max_number.saturating_add(1));
    let challenge = hash_challenge(&salt, number);
    let signature = sign(key, &challenge);
    let (a, b) = (1 + random_below(10), 1 + random_below(10));
    let nonce = secrets::random_token(16);
    let mac = question_mac(key, &nonce, expires, a + b);
    let tag = token_tag(key, &nonce, expires);
    AntiRobot {
        enabled: true,
        algorithm: ALGORITHM,
        challenge,
        salt,
        signature,
        max_number,
        question: format!(
            "Combien font {} plus {} ?",
            NUMBERS_FR[a as usize], NUMBERS_FR[b as usize]
        ),
        question_token: format!("{nonce}.{expires}.{tag}.{mac}"),
        failed: None,
    }
}

/// What a form page renders now (nothing when the check is off).
pub fn issue(state: &AppState) -> AntiRobot {
    let config = &state.config.anti_robot;
    if !config.enabled {
        return AntiRobot::default();
    }
    let ttl = i64::try_from(config.ttl_seconds).unwrap_or(i64::MAX);
    issue_at(
        &key(state),
        config.max_number,
        store::now().saturating_add(ttl),
    )
}

/// A checked solution: what to record so it works once.
#[derive(Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Shared-store key of the used challenge or token.
    pub used_key: String,
    /// Seconds until it expires anyway.
    pub expires: i64,
}

/// Checks a proof-of-work solution (signature, expiry, hash); single use is left to the caller.
pub fn check_solution(key: &hmac::Key, altcha: &str, now: i64) -> Option<Accepted> {
    let raw = STANDARD.decode(altcha.trim()).ok()?;
    let s: Solution = serde_json::from_slice(&raw).ok()?;
    if s.algorithm != ALGORITHM {
        return None;
    }
    let expected = sign(key, &s.challenge);
    if !secrets::constant_time_eq(expected.as_bytes(), s.signature.as_bytes()) {
        return None;
    }
    let expires: i64 = s.salt.split_once("?expires=")?.1.parse().ok()?;
    if expires < now {
        return None;
    }
    if !secrets::constant_time_eq(
        hash_challenge(&s.salt, s.number).as_bytes(),
        s.challenge.as_bytes(),
    ) {
        return None;
    }
    Some(Accepted {
        used_key: format!("anti-robot:pow:{}", s.challenge),
        expires,
    })
}

/// The answer typed: digits, or a number in French words.
fn parse_answer(answer: &str) -> Option<u64> {
    let answer = answer.trim().to_lowercase();
    answer.parse().ok().or_else(|| {
        NUMBERS_FR
            .iter()
            .position(|w| *w == answer)
            .map(|n| n as u64)
    })
}

/// Checks the token's tag and expiry; the answer is checked once the token is spent.
fn check_token(key: &hmac::Key, token: &str, now: i64) -> Option<(String, i64, String)> {
    let mut parts = token.splitn(4, '.');
    let nonce = parts.next().filter(|n| !n.is_empty())?;
    let expires: i64 = parts.next()?.parse().ok()?;
    let tag = parts.next()?;
    let mac = parts.next()?;
    let genuine =
        secrets::constant_time_eq(token_tag(key, nonce, expires).as_bytes(), tag.as_bytes());
    (genuine && expires >= now).then(|| (nonce.to_owned(), expires, mac.to_owned()))
}

/// Whether the submitted fields pass the check (always, when it is off). A solution is spent
/// here: the same one is refused next time.
pub async fn verify(state: &AppState, fields: &Fields) -> Result<bool, PageError> {
    let config = &state.config.anti_robot;
    if !config.enabled {
        return Ok(true);
    }
    let key = key(state);
    let now = store::now();
    let spend = |used_key: String, expires: i64| async move {
        let ttl = Duration::from_secs(u64::try_from(expires - now).unwrap_or(0) + 1);
        state.ephemeral.put_if_absent(&used_key, "1", ttl).await
    };
    if !fields.altcha.trim().is_empty() {
        let Some(accepted) = check_solution(&key, &fields.altcha, now) else {
            tracing::info!(
                anti_robot.outcome = "bad_solution",
                "anti-robot check failed"
            );
            return Ok(false);
        };
        let fresh = spend(accepted.used_key, accepted.expires).await?;
        if !fresh {
            tracing::info!(anti_robot.outcome = "replayed", "anti-robot check failed");
        }
        return Ok(fresh);
    }
    let Some((nonce, expires, mac)) = check_token(&key, &fields.robot_token, now) else {
        tracing::info!(anti_robot.outcome = "missing", "anti-robot check failed");
        return Ok(false);
    };
    // Spent before the answer is compared: one guess per question.
    if !spend(format!("anti-robot:question:{nonce}"), expires).await? {
        tracing::info!(anti_robot.outcome = "replayed", "anti-robot check failed");
        return Ok(false);
    }
    let right = parse_answer(&fields.robot_answer).is_some_and(|answer| {
        let expected = question_mac(&key, &nonce, expires, answer);
        secrets::constant_time_eq(expected.as_bytes(), mac.as_bytes())
    });
    if !right {
        tracing::info!(
            anti_robot.outcome = "wrong_answer",
            "anti-robot check failed"
        );
    }
    Ok(right)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_key() -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, b"0123456789abcdef0123456789abcdef")
    }

    fn solve(robot: &AntiRobot) -> u64 {
        (0..=robot.max_number)
            .find(|n| hash_challenge(&robot.salt, *n) == robot.challenge)
            .expect("a solution")
    }

    fn payload(robot: &AntiRobot, number: u64, signature: &str) -> String {
        STANDARD.encode(
            serde_json::json!({
                "algorithm": robot.algorithm,
                "challenge": robot.challenge,
                "number": number,
                "salt": robot.salt,
                "signature": signature,
            })
            .to_string(),
        )
    }

    #[test]
    fn a_solved_challenge_is_accepted() {
        let robot = issue_at(&test_key(), 100, 2_000);
        let n = solve(&robot);
        let accepted = check_solution(&test_key(), &payload(&robot, n, &robot.signature), 1_000);
        assert_eq!(
            accepted,
            Some(Accepted {
                used_key: format!("anti-robot:pow:{}", robot.challenge),
                expires: 2_000
            })
        );
    }

    #[test]
    fn a_wrong_number_a_forged_signature_or_an_expired_challenge_is_refused() {
        let robot = issue_at(&test_key(), 100, 2_000);
        let n = solve(&robot);
        let wrong = payload(&robot, n + 1, &robot.signature);
        assert_eq!(check_solution(&test_key(), &wrong, 1_000), None);
        let forged = payload(&robot, n, &"0".repeat(64));
        assert_eq!(check_solution(&test_key(), &forged, 1_000), None);
        let other_key = hmac::Key::new(hmac::HMAC_SHA256, b"another key");
        let good = payload(&robot, n, &robot.signature);
        assert_eq!(check_solution(&other_key, &good, 1_000), None);
        assert_eq!(check_solution(&test_key(), &good, 2_001), None);
        assert_eq!(check_solution(&test_key(), "pas du base64 !", 1_000), None);
    }

    #[test]
    fn the_question_is_in_french_words_and_its_token_binds_the_answer() {
        let robot = issue_at(&test_key(), 10, 2_000);
        let words: Vec<&str> = robot
            .question
            .trim_start_matches("Combien font ")
            .trim_end_matches(" ?")
            .split(" plus ")
            .collect();
        let value = |w: &str| NUMBERS_FR.iter().position(|x| *x == w).expect("a number") as u64;
        let sum = value(words[0]) + value(words[1]);
        let (nonce, expires, mac) =
            check_token(&test_key(), &robot.question_token, 1_000).expect("token");
        assert_eq!(question_mac(&test_key(), &nonce, expires, sum), mac);
        assert_ne!(question_mac(&test_key(), &nonce, expires, sum + 1), mac);
        assert_eq!(check_token(&test_key(), &robot.question_token, 2_001), None);
        let forged = robot.question_token.replacen('.', ".9", 1);
        assert_eq!(check_token(&test_key(), &forged, 1_000), None);
    }

    #[test]
    fn answers_may_be_digits_or_words() {
        assert_eq!(parse_answer(" 12 "), Some(12));
        assert_eq!(parse_answer("Douze"), Some(12));
        assert_eq!(parse_answer("dix-sept"), Some(17));
        assert_eq!(parse_answer("beaucoup"), None);
    }
}
