//! The `idp` command line: argument types and what each command does. `main.rs` only parses
//! and calls [`run`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{
    AppState, StartError,
    accounts::{Email, Password, store as users},
    config::{Config, ConfigError},
    keys::{
        SigningAlg,
        rotation::{self, KeyPolicy},
    },
    oidc::clients::{self, AuthMethod, ClientRegistration},
    store,
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
    Services(crate::access::commands::ServicesCommand),
    /// Activation codes.
    #[command(subcommand)]
    Codes(crate::access::commands::CodesCommand),
    /// Habilitations (support and bootstrapping).
    #[command(subcommand)]
    Habilitations(crate::access::commands::HabilitationsCommand),
}

/// `idp sirene …`.
#[derive(Subcommand, Debug)]
pub enum SireneCommand {
    /// Imports INSEE's StockEtablissement CSV file (re-runnable: updates in place).
    Import {
        /// The StockEtablissement CSV file.
        file: PathBuf,
        /// INSEE's StockUniteLegale CSV file, for the companies' raison sociale.
        #[arg(long)]
        unites_legales: Option<PathBuf>,
        /// Rows per transaction.
        #[arg(long, default_value_t = crate::organizations::import::DEFAULT_BATCH)]
        batch_size: usize,
        /// A progress line on stderr every this many lines (0: none).
        #[arg(long, default_value_t = 100_000)]
        progress_every: u64,
    },
    /// Searches the register by raison sociale (prefix), SIREN or SIRET.
    Search {
        /// Raison sociale, SIREN or SIRET.
        query: String,
        /// Page of results, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
    },
}

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

/// Token endpoint authentication on the command line.
#[derive(ValueEnum, Clone, Copy, Debug)]
#[value(rename_all = "snake_case")]
pub enum AuthMethodArg {
    /// HTTP Basic.
    ClientSecretBasic,
    /// Secret in the body.
    ClientSecretPost,
    /// Signed JWT assertion.
    PrivateKeyJwt,
    /// Public client with PKCE.
    None,
}

impl From<AuthMethodArg> for AuthMethod {
    fn from(a: AuthMethodArg) -> Self {
        match a {
            AuthMethodArg::ClientSecretBasic => AuthMethod::ClientSecretBasic,
            AuthMethodArg::ClientSecretPost => AuthMethod::ClientSecretPost,
            AuthMethodArg::PrivateKeyJwt => AuthMethod::PrivateKeyJwt,
            AuthMethodArg::None => AuthMethod::None,
        }
    }
}

/// Fields of a client registration.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// Display name shown to people.
    #[arg(long)]
    pub name: Option<String>,
    /// Token endpoint authentication.
    #[arg(long, value_enum)]
    pub auth_method: Option<AuthMethodArg>,
    /// Redirect URI (repeat for several).
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URI (repeat for several).
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant type (repeat; default authorization_code and refresh_token).
    #[arg(long = "grant-type")]
    pub grant_types: Vec<String>,
    /// Scope the client may obtain (repeat; default openid email profile organization).
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// ID token signing algorithm (default RS256).
    #[arg(long, value_enum)]
    pub alg: Option<AlgArg>,
    /// JWKS file with the client's public keys (private_key_jwt).
    #[arg(long)]
    pub jwks_file: Option<PathBuf>,
    /// First-party client: no consent screen.
    #[arg(long)]
    pub skip_consent: Option<bool>,
}

/// `idp clients …`.
#[derive(Subcommand, Debug)]
pub enum ClientsCommand {
    /// Registers a client; prints its secret once.
    Create {
        /// Client id.
        client_id: String,
        /// Registration.
        #[command(flatten)]
        args: ClientArgs,
    },
    /// Lists clients.
    List,
    /// Shows one client (JSON).
    Show {
        /// Client id.
        client_id: String,
    },
    /// Changes the given fields of a client.
    Update {
        /// Client id.
        client_id: String,
        /// Fields to replace.
        #[command(flatten)]
        args: ClientArgs,
    },
    /// Deletes a client, its consents and grants.
    Delete {
        /// Client id.
        client_id: String,
    },
    /// Gives a secret client a new secret; prints it once.
    RotateSecret {
        /// Client id.
        client_id: String,
    },
}

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

/// A command that failed, with what to tell the operator.
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
    /// Key lifecycle.
    #[error(transparent)]
    Keys(#[from] rotation::RotationError),
    /// Client registration.
    #[error(transparent)]
    Registration(#[from] clients::RegistrationError),
    /// Bad argument.
    #[error("{0}")]
    Invalid(String),
    /// Not found.
    #[error("introuvable : {0}")]
    NotFound(String),
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

/// Runs a parsed command with the loaded configuration.
pub async fn run(cli: Cli, config: Config) -> Result<(), CliError> {
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = store::Db::connect(&config.database_url)
                .await
                .map_err(StartError::from)?;
            db.migrate().await.map_err(StartError::from)?;
            println!("migrations appliquées");
            Ok(())
        }
        Command::Keys(cmd) => keys(config, cmd).await,
        Command::Clients(cmd) => clients_cmd(config, cmd).await,
        Command::Users(cmd) => users_cmd(config, cmd).await,
        Command::Sirene(cmd) => sirene_cmd(config, cmd).await,
        Command::Services(cmd) => crate::access::commands::services_cmd(config, cmd).await,
        Command::Codes(cmd) => crate::access::commands::codes_cmd(config, cmd).await,
        Command::Habilitations(cmd) => {
            crate::access::commands::habilitations_cmd(config, cmd).await
        }
    }
}

async fn serve(config: Config) -> Result<(), CliError> {
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

fn date(t: Option<i64>) -> String {
    t.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}

async fn keys(config: Config, cmd: KeysCommand) -> Result<(), CliError> {
    let state = AppState::open(config).await?;
    let policy = KeyPolicy::from_config(&state.config);
    let now = store::now();
    match cmd {
        KeysCommand::List => {
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
        }
        KeysCommand::Rotate { alg } => {
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
        KeysCommand::Retire { kid } => {
            rotation::retire(&state.db, &policy, &kid, now, "cli").await?;
            println!(
                "clé {kid} retirée : elle ne signe plus et reste publiée jusqu'à l'expiration des jetons signés"
            );
        }
        KeysCommand::Revoke { kid } => {
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

fn registration(
    client_id: String,
    args: ClientArgs,
    base: Option<&clients::Client>,
) -> Result<ClientRegistration, CliError> {
    let jwks = match &args.jwks_file {
        Some(path) => Some(
            serde_json::from_str(&std::fs::read_to_string(path)?).map_err(|e| {
                CliError::Invalid(format!("JWKS illisible ({}) : {e}", path.display()))
            })?,
        ),
        None => base.and_then(|b| b.jwks.clone()),
    };
    let or = |given: Vec<String>, old: Option<&Vec<String>>, default: &[&str]| {
        if !given.is_empty() {
            given
        } else {
            old.cloned()
                .unwrap_or_else(|| default.iter().map(|s| (*s).to_owned()).collect())
        }
    };
    Ok(ClientRegistration {
        name: args
            .name
            .or_else(|| base.map(|b| b.name.clone()))
            .unwrap_or_else(|| client_id.clone()),
        auth_method: args
            .auth_method
            .map(AuthMethod::from)
            .or(base.map(|b| b.auth_method))
            .unwrap_or(AuthMethod::ClientSecretBasic),
        redirect_uris: or(args.redirect_uris, base.map(|b| &b.redirect_uris), &[]),
        post_logout_redirect_uris: or(
            args.post_logout_redirect_uris,
            base.map(|b| &b.post_logout_redirect_uris),
            &[],
        ),
        grant_types: or(
            args.grant_types,
            base.map(|b| &b.grant_types),
            &["authorization_code", "refresh_token"],
        ),
        scopes: or(
            args.scopes,
            base.map(|b| &b.scopes),
            &["openid", "email", "profile", "organization"],
        ),
        id_token_alg: args
            .alg
            .map(SigningAlg::from)
            .or(base.map(|b| b.id_token_alg))
            .unwrap_or(SigningAlg::RS256),
        jwks,
        skip_consent: args
            .skip_consent
            .or(base.map(|b| b.skip_consent))
            .unwrap_or(false),
        client_id,
    })
}

async fn clients_cmd(config: Config, cmd: ClientsCommand) -> Result<(), CliError> {
    let db = store::Db::connect(&config.database_url)
        .await
        .map_err(StartError::from)?;
    db.migrate().await.map_err(StartError::from)?;
    match cmd {
        ClientsCommand::Create { client_id, args } => {
            let reg = registration(client_id, args, None)?;
            let secret = clients::insert_client(&db, &reg).await??;
            crate::audit::record_on_pool(
                &db,
                "cli",
                "client.created",
                &reg.client_id,
                serde_json::json!({}),
            )
            .await?;
            println!("client {} enregistré", reg.client_id);
            if let Some(secret) = secret {
                println!("secret (affiché une seule fois) : {secret}");
            }
        }
        ClientsCommand::List => {
            for c in clients::all_clients(&db).await? {
                println!(
                    "{:<30} {:<20} {:<8} {}",
                    c.client_id,
                    c.auth_method.as_str(),
                    c.id_token_alg.as_str(),
                    c.name
                );
            }
        }
        ClientsCommand::Show { client_id } => {
            let c = clients::client_by_id(&db, &client_id)
                .await?
                .ok_or(CliError::NotFound(client_id))?;
            println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
        }
        ClientsCommand::Update { client_id, args } => {
            let current = clients::client_by_id(&db, &client_id)
                .await?
                .ok_or_else(|| CliError::NotFound(client_id.clone()))?;
            let reg = registration(client_id, args, Some(&current))?;
            if reg.auth_method.uses_secret() && !current.auth_method.uses_secret() {
                return Err(CliError::Invalid(
                    "passer à une méthode à secret : supprimez et recréez le client".into(),
                ));
            }
            clients::update_client(&db, &reg).await??;
            crate::audit::record_on_pool(
                &db,
                "cli",
                "client.updated",
                &reg.client_id,
                serde_json::json!({}),
            )
            .await?;
            println!("client {} mis à jour", reg.client_id);
        }
        ClientsCommand::Delete { client_id } => {
            if !clients::delete_client(&db, &client_id).await? {
                return Err(CliError::NotFound(client_id));
            }
            crate::audit::record_on_pool(
                &db,
                "cli",
                "client.deleted",
                &client_id,
                serde_json::json!({}),
            )
            .await?;
            println!("client {client_id} supprimé");
        }
        ClientsCommand::RotateSecret { client_id } => {
            let secret = clients::rotate_secret(&db, &client_id)
                .await?
                .ok_or_else(|| CliError::NotFound(format!("{client_id} (client à secret)")))?;
            crate::audit::record_on_pool(
                &db,
                "cli",
                "client.secret_rotated",
                &client_id,
                serde_json::json!({}),
            )
            .await?;
            println!("nouveau secret (affiché une seule fois) : {secret}");
        }
    }
    Ok(())
}

async fn users_cmd(config: Config, cmd: UsersCommand) -> Result<(), CliError> {
    let db = store::Db::connect(&config.database_url)
        .await
        .map_err(StartError::from)?;
    db.migrate().await.map_err(StartError::from)?;
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
            let user = users::insert_user(&db, &email, Some(&phc), &new)
                .await?
                .ok_or_else(|| CliError::Invalid(format!("un compte existe déjà pour {email}")))?;
            crate::audit::record_on_pool(
                &db,
                "cli",
                "user.created",
                &user.id,
                serde_json::json!({"agent": agent}),
            )
            .await?;
            println!("compte créé : {}", user.id);
        }
    }
    Ok(())
}

async fn sirene_cmd(config: Config, cmd: SireneCommand) -> Result<(), CliError> {
    use crate::organizations::{import, insee, register};
    match cmd {
        SireneCommand::Import {
            file,
            unites_legales,
            batch_size,
            progress_every,
        } => {
            let options = import::ImportOptions {
                batch: batch_size,
                progress_every,
            };
            // Check the files before touching the database.
            for path in std::iter::once(&file).chain(unites_legales.as_ref()) {
                std::fs::File::open(path).map_err(|source| import::ImportError::Open {
                    path: path.clone(),
                    source,
                })?;
            }
            let db = store::Db::connect(&config.database_url)
                .await
                .map_err(StartError::from)?;
            db.migrate().await.map_err(StartError::from)?;
            let started = std::time::Instant::now();
            let report = import::import(&db, &file, unites_legales.as_deref(), &options, |r| {
                eprintln!(
                    "… {} lignes lues, {} établissements enregistrés, {} lignes invalides, {} unités légales lues ({} s)",
                    r.read,
                    r.imported,
                    r.invalid,
                    r.legal_units_read,
                    started.elapsed().as_secs()
                );
            })
            .await?;
            for (line, reason) in &report.invalid_samples {
                eprintln!("ligne {line} ignorée : {reason}");
            }
            println!(
                "import terminé : {} lignes lues, {} établissements enregistrés dont {} nouveaux, {} lignes invalides ignorées, {} établissements renommés d'après leur unité légale",
                report.read, report.imported, report.created, report.invalid, report.renamed
            );
        }
        SireneCommand::Search { query, page } => {
            let query = register::Query::parse(&query)?;
            let db = store::Db::connect(&config.database_url)
                .await
                .map_err(StartError::from)?;
            db.migrate().await.map_err(StartError::from)?;
            let api = insee::InseeClient::from_config(&config.sirene);
            let found = insee::search(&db, api.as_ref(), &query, page).await?;
            for e in &found.results {
                println!(
                    "{}  {:<40} {}{}{}",
                    e.siret,
                    e.name,
                    e.location(),
                    if e.head_office { "  (siège)" } else { "" },
                    if e.active { "" } else { "  FERMÉ" }
                );
            }
            println!(
                "{} (page {} sur {})",
                found.summary(),
                found.page,
                found.pages()
            );
        }
    }
    Ok(())
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
