//! `idp users …`: accounts made by an operator (bootstrapping agents, demos, tests).

use clap::Subcommand;

use super::{CliError, open};
use crate::{
    accounts::{Email, Password, actions::create_account, refusal::AccountRefusal, store as users},
    clock::Clock,
    config::Config,
};

/// `idp users …`.
#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Creates an account with a verified e-mail (bootstrapping agents, demos, tests). The
    /// password is read from `IDP_NEW_USER_PASSWORD` so it stays out of shell history.
    Create {
        /// E-mail address (login).
        #[arg(long)]
        email: String,
        /// Prénom.
        #[arg(long, default_value = "")]
        given_name: String,
        /// Nom.
        #[arg(long, default_value = "")]
        family_name: String,
        /// Ministry agent.
        #[arg(long)]
        agent: bool,
    },
}

/// Runs `idp users …`.
pub async fn run(config: Config, cmd: UsersCommand) -> Result<(), CliError> {
    let db = open(&config).await?;
    match cmd {
        UsersCommand::Create {
            email,
            given_name,
            family_name,
            agent,
        } => {
            let email = Email::parse(&email).map_err(|e| CliError::Invalid(e.to_string()))?;
            let clear = std::env::var("IDP_NEW_USER_PASSWORD").map_err(|_| {
                CliError::Invalid("IDP_NEW_USER_PASSWORD doit contenir le mot de passe".into())
            })?;
            let password = Password::parse(&clear).map_err(|e| CliError::Invalid(e.to_string()))?;
            let hasher = crate::accounts::PasswordHasher::new(1, 1);
            let phc = hasher
                .hash(&password)
                .await
                .map_err(|e| CliError::Invalid(e.to_string()))?;
            let new = users::NewUser {
                given_name,
                family_name,
                is_agent: agent,
                ..Default::default()
            };
            let now = Clock::system().now();
            let user = create_account::create_account(&db, now, "cli", &email, &phc, &new)
                .await
                .map_err(|refused| match refused {
                    AccountRefusal::Storage(e) => CliError::Db(e),
                    AccountRefusal::EmailTaken => {
                        CliError::Invalid(format!("un compte existe déjà pour {email}"))
                    }
                    other => CliError::Invalid(other.to_string()),
                })?;
            println!("compte créé : {user}");
        }
    }
    Ok(())
}
