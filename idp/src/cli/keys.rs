//! `idp keys …`: list, rotate, retire and revoke signing keys (the actions of `keys/actions/`).

use clap::{Subcommand, ValueEnum};

use super::{CliError, date};
use crate::{
    AppState,
    config::Config,
    keys::{
        SigningAlg,
        rotation::{self, KeyPolicy},
    },
};

/// `idp keys …`.
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Lists keys and their state.
    List,
    /// Starts a rotation: a new key, published now, signing after the pre-publication period.
    Rotate {
        /// Algorithm to rotate (default: both).
        #[arg(long, value_enum)]
        alg: Option<AlgArg>,
    },
    /// Stops a key signing now; it stays published until the tokens it signed expire.
    Retire {
        /// Key id (as `idp keys list` prints it).
        // A thumbprint is base64url and may start with `-`: without this, clap takes it for a flag.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Removes a compromised key from the JWKS at once (tokens it signed are refused).
    Revoke {
        /// Key id (as `idp keys list` prints it).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Re-seals every private key and secret under the current key-encryption key (`keys.kek`),
    /// opening them with it or a previous one (`keys.previous_keks`), in one transaction.
    Rewrap,
}

/// A signing algorithm on the command line.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum AlgArg {
    /// RSA PKCS#1 v1.5 SHA-256.
    #[value(name = "RS256")]
    Rs256,
    /// ECDSA P-256 SHA-256.
    #[value(name = "ES256")]
    Es256,
}

impl From<AlgArg> for SigningAlg {
    fn from(a: AlgArg) -> Self {
        match a {
            AlgArg::Rs256 => SigningAlg::RS256,
            AlgArg::Es256 => SigningAlg::ES256,
        }
    }
}

/// The commands that need the provider's state opened.
enum Opened {
    List,
    Rotate { alg: Option<AlgArg> },
    Retire { kid: String },
    Revoke { kid: String },
}

/// Runs `idp keys …`.
pub async fn run(config: Config, cmd: KeysCommand) -> Result<(), CliError> {
    // Rewrap works on the rows as stored: it must not open the state (which makes and loads
    // keys, and would stop at a key sealed under neither KEK before the refusal says which).
    let cmd = match cmd {
        KeysCommand::Rewrap => return rewrap(&config).await,
        KeysCommand::List => Opened::List,
        KeysCommand::Rotate { alg } => Opened::Rotate { alg },
        KeysCommand::Retire { kid } => Opened::Retire { kid },
        KeysCommand::Revoke { kid } => Opened::Revoke { kid },
    };
    let state = AppState::open(config).await?;
    let policy = KeyPolicy::from_config(&state.config);
    let now = state.clock.now();
    match cmd {
        Opened::List => list(&state, now).await?,
        Opened::Rotate { alg } => {
            let algs: Vec<SigningAlg> = alg.map_or(SigningAlg::ALL.to_vec(), |a| vec![a.into()]);
            for alg in algs {
                let key = rotation::rotate(&state.db, &state.kek, &policy, alg, now, "cli").await?;
                println!(
                    "{} : nouvelle clé {} publiée, signe à partir du {}",
                    alg.as_str(),
                    key.kid,
                    date(Some(key.activates_at))
                );
            }
        }
        Opened::Retire { kid } => {
            rotation::retire(&state.db, &policy, &kid, now, "cli").await?;
            println!(
                "clé {kid} retirée : elle ne signe plus et reste publiée jusqu'à l'expiration des jetons signés"
            );
        }
        Opened::Revoke { kid } => {
            let created =
                rotation::revoke(&state.db, &state.kek, &policy, &kid, now, "cli").await?;
            println!("clé {kid} révoquée : retirée du JWKS");
            for kid in created {
                println!("clé de remplacement {kid} créée, elle signe dès maintenant");
            }
        }
    }
    Ok(())
}

/// `idp keys rewrap`.
async fn rewrap(config: &Config) -> Result<(), CliError> {
    let db = super::open(config).await?;
    let kek = crate::open_kek(config, &db).await?;
    let now = crate::clock::Clock::system().now();
    let done = crate::keys::actions::rewrap::rewrap(&db, &kek, now, "cli")
        .await
        .map_err(crate::StartError::from)?;
    println!(
        "re-scellés sous la clé de chiffrement courante : {} clé(s) de signature, {} secret(s) TOTP, \
         {} secret(s) nommé(s) ({} l'étaient déjà)",
        done.signing_keys, done.totp_secrets, done.sealed_secrets, done.already_current
    );
    if kek.previous_count() > 0 {
        println!(
            "les clés précédentes (keys.previous_keks) peuvent quitter la configuration de chaque nœud"
        );
    }
    Ok(())
}

async fn list(state: &AppState, now: i64) -> Result<(), CliError> {
    println!(
        "{:<44} {:<6} {:<9} {:<21} {:<21} {:<21}",
        "KID", "ALG", "ÉTAT", "SIGNE DEPUIS", "NE SIGNE PLUS", "RETIRÉE DU JWKS"
    );
    for k in rotation::list(&state.db, now).await? {
        let state = serde_json::to_value(k.state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!(
            "{:<44} {:<6} {:<9} {:<21} {:<21} {:<21}",
            k.kid,
            k.alg,
            state,
            date(Some(k.activates_at)),
            date(k.retired_at),
            date(k.remove_at.or(k.revoked_at))
        );
    }
    Ok(())
}
