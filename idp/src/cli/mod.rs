//! The `idp` command line: the argument types and the dispatch; one file per command group,
//! each calling the actions of its domain. `main.rs` only parses and calls [`run`].

mod audit;
mod cgu;
mod clients;
mod codes;
pub mod config;
mod db;
mod habilitations;
mod keys;
mod services;
mod sirene;
mod users;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use self::{
    audit::AuditCommand,
    cgu::CguCommand,
    clients::{AuthMethodArg, ClientArgs, ClientsCommand},
    codes::CodesCommand,
    db::DbCommand,
    habilitations::HabilitationsCommand,
    keys::{AlgArg, KeysCommand},
    services::{KindArg, ServicesCommand},
    sirene::SireneCommand,
    users::UsersCommand,
};
use crate::{
    AppState, StartError,
    access::refusal::AccessRefusal,
    action::{Refusal, RefusalKind},
    config::{Config, ConfigError},
    keys::rotation::RotationError,
    oidc::clients::ClientRefusal,
    store::Db,
};

/// EFP Connect, the OpenID Connect provider.
#[derive(Parser, Debug)]
#[command(name = "idp", version, about)]
pub struct Cli {
    /// TOML configuration file (also `IDP_CONFIG`).
    #[arg(long, global = true, env = "IDP_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Runs the HTTP server (migrates the database and creates keys first if needed).
    Serve,
    /// Applies the database migrations.
    Migrate,
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Relying parties.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// The local SIRENE register of establishments.
    #[command(subcommand)]
    Sirene(SireneCommand),
    /// Services (démarches), their roles, clients and documents.
    #[command(subcommand)]
    Services(ServicesCommand),
    /// Activation codes.
    #[command(subcommand)]
    Codes(CodesCommand),
    /// Habilitations (support and bootstrapping).
    #[command(subcommand)]
    Habilitations(HabilitationsCommand),
    /// EFP Connect's own conditions générales d'utilisation.
    #[command(subcommand)]
    Cgu(CguCommand),
    /// The configuration itself.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The database itself: moving to another engine.
    #[command(subcommand)]
    Db(DbCommand),
    /// Removes what has expired (tokens, grants, history past `retention.history_days`, old
    /// outbox messages), as `idp serve` does every `retention.interval_seconds`.
    Purge {
        /// Counts what would go, removing nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// A command that failed, with what to tell the operator (its `Display`, in French). Every
/// error exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Start-up.
    #[error(transparent)]
    Start(#[from] StartError),
    /// Database.
    #[error("base de données : {0}")]
    Db(#[from] sqlx::Error),
    /// A key action refused (`idp keys …`).
    #[error(transparent)]
    Keys(#[from] RotationError),
    /// A bad argument, or an action's refusal of kind [`RefusalKind::Invalid`] or
    /// [`RefusalKind::Conflict`].
    #[error("{0}")]
    Invalid(String),
    /// Nothing by that name (« introuvable : … »), or an action's refusal of kind
    /// [`RefusalKind::NotFound`].
    #[error("{0}")]
    NotFound(String),
    /// Any other refusal of an action: its stable code and its French message.
    #[error("{message}")]
    Refused {
        /// [`Refusal::code`].
        code: &'static str,
        /// Its French message.
        message: String,
    },
    /// I/O.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// SIRENE import.
    #[error("import SIRENE : {0}")]
    Import(#[from] crate::organizations::import::ImportError),
    /// SIRENE search.
    #[error("recherche SIRENE : {0}")]
    Search(#[from] crate::organizations::register::QueryError),
}

impl CliError {
    /// An action's refusal, as the operator reads it: its French message, in the variant of
    /// its kind.
    fn refused(refusal: &impl Refusal) -> Self {
        let message = refusal.to_string();
        match refusal.kind() {
            RefusalKind::Invalid | RefusalKind::Conflict => Self::Invalid(message),
            RefusalKind::NotFound => Self::NotFound(message),
            _ => Self::Refused {
                code: refusal.code(),
                message,
            },
        }
    }
}

impl From<ClientRefusal> for CliError {
    fn from(refusal: ClientRefusal) -> Self {
        match refusal {
            ClientRefusal::Storage(e) => Self::Db(e),
            other => Self::refused(&other),
        }
    }
}

impl From<AccessRefusal> for CliError {
    fn from(refusal: AccessRefusal) -> Self {
        match refusal {
            AccessRefusal::Storage(e) => Self::Db(e),
            other => Self::refused(&other),
        }
    }
}

/// Runs a parsed command with the loaded configuration.
pub async fn run(cli: Cli, config: Config) -> Result<(), CliError> {
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            open(&config).await?;
            println!("migrations appliquées");
            Ok(())
        }
        Command::Keys(cmd) => keys::run(config, cmd).await,
        Command::Clients(cmd) => clients::run(config, cmd).await,
        Command::Users(cmd) => users::run(config, cmd).await,
        Command::Sirene(cmd) => sirene::run(config, cmd).await,
        Command::Services(cmd) => services::run(config, cmd).await,
        Command::Codes(cmd) => codes::run(config, cmd).await,
        Command::Habilitations(cmd) => habilitations::run(config, cmd).await,
        Command::Cgu(cmd) => cgu::run(config, cmd).await,
        Command::Audit(cmd) => audit::run(config, cmd).await,
        Command::Db(cmd) => db::run(cmd).await,
        Command::Purge { dry_run } => purge(config, dry_run).await,
        // main.rs runs it before loading (and refusing) the configuration.
        Command::Config(cmd) => {
            if config::passes(&cmd, cli.config.as_deref()) {
                Ok(())
            } else {
                Err(CliError::Invalid("configuration invalide".into()))
            }
        }
    }
}

/// The database, migrated.
async fn open(config: &Config) -> Result<Db, CliError> {
    let db = Db::connect_with(&config.database_url, config.database_max_connections)
        .await
        .map_err(StartError::from)?;
    db.migrate().await.map_err(StartError::from)?;
    Ok(db)
}

async fn purge(config: Config, dry_run: bool) -> Result<(), CliError> {
    let db = open(&config).await?;
    let now = crate::clock::Clock::system().now();
    let purged = crate::retention::purge(&db, &config, now, dry_run, "cli")
        .await
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    let verb = if dry_run {
        "à supprimer"
    } else {
        "supprimé(s)"
    };
    for (table, rows) in &purged.tables {
        println!("{table:<20} {rows} ligne(s) {verb}");
    }
    println!("{:<20} {} message(s) {verb}", "outbox", purged.outbox_files);
    Ok(())
}

async fn serve(config: Config) -> Result<(), CliError> {
    crate::config_check::log_warnings(&config);
    let listen = config.listen;
    let state = AppState::open(config).await?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(listen = %listener.local_addr()?, issuer = %state.config.issuer, "EFP Connect listening");
    crate::serve(state, listener, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown requested");
}

/// A time for people: RFC 3339, or « - ».
fn date(t: Option<i64>) -> String {
    t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_starting_with_a_hyphen_are_taken_as_key_ids() {
        // About one thumbprint in 64 starts with `-`; operators paste it as `keys list` prints it.
        for verb in ["retire", "revoke"] {
            let cli = Cli::try_parse_from(["idp", "keys", verb, "-4xYz_kid"]).expect("parses");
            let kid = match cli.command {
                Command::Keys(KeysCommand::Retire { kid } | KeysCommand::Revoke { kid }) => kid,
                other => panic!("unexpected command {other:?}"),
            };
            assert_eq!(kid, "-4xYz_kid");
        }
    }
}
