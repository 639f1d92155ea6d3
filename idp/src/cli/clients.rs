//! `idp clients …`: register, show, change and delete relying parties (the actions of
//! `oidc/actions/`).

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

use super::{CliError, keys::AlgArg, open};
use crate::{
    clock::Clock,
    config::Config,
    keys::SigningAlg,
    oidc::{
        actions::{client_create, client_delete, client_rotate_secret, client_update},
        clients::{self, AuthMethod, Client, ClientRefusal, ClientRegistration},
    },
};

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
    /// Back-channel logout URI (OpenID Connect Back-Channel Logout 1.0); "" removes it.
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// The client requires `sid` in its logout tokens.
    #[arg(long)]
    pub backchannel_logout_session_required: Option<bool>,
    /// Every login to the client needs a second factor (step-up, or enrolment first).
    #[arg(long)]
    pub require_mfa: Option<bool>,
    /// Authorization requests must carry a PKCE challenge (default true; public clients always).
    #[arg(long)]
    pub require_pkce: Option<bool>,
    /// A client whose access tokens this one may introspect, as a resource server (repeat for
    /// several; "" alone empties the list).
    #[arg(long = "introspects")]
    pub introspects: Vec<String>,
    /// Trusted to forward the person's address to the activation API (`end_user_ip`).
    #[arg(long)]
    pub forwards_end_user_ip: Option<bool>,
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

/// The given list, else the registered one, else the default.
fn given_or(given: Vec<String>, old: Option<&Vec<String>>, default: &[&str]) -> Vec<String> {
    if !given.is_empty() {
        return given;
    }
    old.cloned()
        .unwrap_or_else(|| default.iter().map(|s| (*s).to_owned()).collect())
}

/// The registration the arguments describe, over `base` (an update) or the defaults.
fn registration(
    client_id: String,
    args: ClientArgs,
    base: Option<&Client>,
) -> Result<ClientRegistration, CliError> {
    let jwks = match &args.jwks_file {
        Some(path) => Some(
            serde_json::from_str(&std::fs::read_to_string(path)?).map_err(|e| {
                CliError::Invalid(format!("JWKS illisible ({}) : {e}", path.display()))
            })?,
        ),
        None => base.and_then(|b| b.jwks.clone()),
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
        redirect_uris: given_or(args.redirect_uris, base.map(|b| &b.redirect_uris), &[]),
        post_logout_redirect_uris: given_or(
            args.post_logout_redirect_uris,
            base.map(|b| &b.post_logout_redirect_uris),
            &[],
        ),
        grant_types: given_or(
            args.grant_types,
            base.map(|b| &b.grant_types),
            &["authorization_code", "refresh_token"],
        ),
        scopes: given_or(
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
        backchannel_logout_uri: match args.backchannel_logout_uri {
            Some(uri) => Some(uri).filter(|u| !u.is_empty()),
            None => base.and_then(|b| b.backchannel_logout_uri.clone()),
        },
        backchannel_logout_session_required: args
            .backchannel_logout_session_required
            .or(base.map(|b| b.backchannel_logout_session_required))
            .unwrap_or(false),
        require_mfa: args
            .require_mfa
            .or(base.map(|b| b.require_mfa))
            .unwrap_or(false),
        require_pkce: args
            .require_pkce
            .or(base.map(|b| b.require_pkce))
            .unwrap_or(true),
        introspects: given_or(args.introspects, base.map(|b| &b.introspects), &[])
            .into_iter()
            .filter(|c| !c.is_empty())
            .collect(),
        forwards_end_user_ip: args
            .forwards_end_user_ip
            .or(base.map(|b| b.forwards_end_user_ip))
            .unwrap_or(false),
        client_id,
    })
}

/// Runs `idp clients …`.
pub async fn run(config: Config, cmd: ClientsCommand) -> Result<(), CliError> {
    let db = open(&config).await?;
    let now = Clock::system().now();
    match cmd {
        ClientsCommand::Create { client_id, args } => {
            let reg = registration(client_id, args, None)?;
            let secret = client_create::create_client(&db, &reg, now, "cli").await?;
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
                .ok_or(ClientRefusal::Unknown(client_id))?;
            println!("{}", serde_json::to_string_pretty(&c).unwrap_or_default());
        }
        ClientsCommand::Update { client_id, args } => {
            // The arguments change what they name: the rest is read from the registration.
            let current = clients::client_by_id(&db, &client_id)
                .await?
                .ok_or_else(|| ClientRefusal::Unknown(client_id.clone()))?;
            let reg = registration(client_id, args, Some(&current))?;
            client_update::update_client(&db, &reg, now, "cli").await?;
            println!("client {} mis à jour", reg.client_id);
        }
        ClientsCommand::Delete { client_id } => {
            client_delete::delete_client(&db, &client_id, now, "cli").await?;
            println!("client {client_id} supprimé");
        }
        ClientsCommand::RotateSecret { client_id } => {
            let secret = client_rotate_secret::rotate_secret(&db, &client_id, now, "cli").await?;
            println!("nouveau secret (affiché une seule fois) : {secret}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    /// The registration `idp clients create|update <args>` describes, over `base`.
    fn parsed(argv: &[&str], base: Option<&Client>) -> ClientRegistration {
        let cli = Cli::try_parse_from(argv).expect("parses");
        let (client_id, args) = match cli.command {
            Command::Clients(
                ClientsCommand::Create { client_id, args }
                | ClientsCommand::Update { client_id, args },
            ) => (client_id, args),
            other => panic!("unexpected command {other:?}"),
        };
        registration(client_id, args, base).expect("registration")
    }

    #[test]
    fn a_new_client_needs_pkce_introspects_nothing_and_forwards_no_address() {
        let reg = parsed(
            &[
                "idp",
                "clients",
                "create",
                "rp",
                "--redirect-uri",
                "https://rp.example/cb",
            ],
            None,
        );
        assert!(reg.require_pkce);
        assert!(reg.introspects.is_empty());
        assert!(!reg.forwards_end_user_ip);
    }

    #[test]
    fn pkce_introspection_and_address_forwarding_are_set_and_kept_by_updates() {
        let reg = parsed(
            &[
                "idp",
                "clients",
                "create",
                "api",
                "--grant-type",
                "client_credentials",
                "--require-pkce",
                "false",
                "--introspects",
                "rp",
                "--introspects",
                "rp2",
                "--forwards-end-user-ip",
                "true",
            ],
            None,
        );
        assert!(!reg.require_pkce);
        assert_eq!(reg.introspects, ["rp", "rp2"]);
        assert!(reg.forwards_end_user_ip);
        reg.validate().expect("valid");

        let current = Client {
            registration: reg,
            secret_hash: None,
            created_at: 0,
        };
        // An update that names none of them keeps them.
        let kept = parsed(
            &["idp", "clients", "update", "api", "--name", "API"],
            Some(&current),
        );
        assert_eq!(
            (
                kept.require_pkce,
                kept.introspects.clone(),
                kept.forwards_end_user_ip
            ),
            (false, vec!["rp".to_owned(), "rp2".to_owned()], true)
        );
        // "" alone empties the list.
        let emptied = parsed(
            &["idp", "clients", "update", "api", "--introspects", ""],
            Some(&current),
        );
        assert!(emptied.introspects.is_empty());
    }

    #[test]
    fn an_introspected_client_id_is_checked_like_a_client_id() {
        let reg = parsed(
            &[
                "idp",
                "clients",
                "create",
                "api",
                "--grant-type",
                "client_credentials",
                "--introspects",
                "not an id",
            ],
            None,
        );
        assert!(
            matches!(reg.validate(), Err(crate::oidc::clients::RegistrationError::ClientId(id)) if id == "not an id")
        );
    }
}
