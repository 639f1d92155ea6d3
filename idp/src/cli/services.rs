//! `idp services …`: services (démarches), their roles, clients and documents (the actions
//! `access/actions/service_*.rs`).

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::{CliError, open};
use crate::{
    access::{
        actions::{service_add_role, service_create, service_link_client, service_publish},
        services::{self, DocumentKind, Role, Service},
    },
    clock::Clock,
    config::Config,
    store::Db,
};

/// `idp services …`.
#[derive(Subcommand, Debug)]
pub enum ServicesCommand {
    /// Lists the services.
    List,
    /// Shows a service: roles, clients, documents.
    Show {
        /// Service code (`ceres`).
        code: String,
    },
    /// Creates a service, or updates its label, description and home page.
    Create {
        /// Service code: lower-case letters, digits and `_`.
        code: String,
        /// Name shown to people.
        #[arg(long)]
        label: String,
        /// One line on what it is for (kept as it is when omitted on an update).
        #[arg(long)]
        description: Option<String>,
        /// Where people go back to when they are done on the provider's pages (kept as it is
        /// when omitted on an update).
        #[arg(long)]
        home_url: Option<String>,
        /// Every login to the service's clients needs a second factor (kept as it is when
        /// omitted on an update).
        #[arg(long)]
        require_mfa: Option<bool>,
    },
    /// Adds a role to a service, or updates it.
    AddRole {
        /// Service code.
        service: String,
        /// Role code (the `role` claim): lower-case letters, digits and `_`.
        role: String,
        /// Label (the `role_label` claim).
        #[arg(long)]
        label: String,
        /// What the role is for.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Makes an OIDC client one of the service's clients.
    LinkClient {
        /// Service code.
        service: String,
        /// Client id.
        client_id: String,
        /// Users without a habilitation for the service see the no-access page at login.
        #[arg(long)]
        requires_habilitation: bool,
    },
    /// Publishes a new version of the CGU or of the charte (text file, paragraphs separated
    /// by blank lines).
    Publish {
        /// Service code.
        service: String,
        /// Which document.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Title.
        #[arg(long)]
        title: String,
        /// Text file.
        #[arg(long)]
        file: PathBuf,
    },
}

/// A document kind on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KindArg {
    /// Conditions générales d'utilisation.
    Cgu,
    /// Charte du responsable des accès.
    Charte,
}

impl From<KindArg> for DocumentKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Cgu => Self::Cgu,
            KindArg::Charte => Self::Charte,
        }
    }
}

/// The service with this code, or the typed « introuvable ».
pub(super) async fn service(db: &Db, code: &str) -> Result<Service, CliError> {
    services::by_code(db, code)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("introuvable : service {code}")))
}

/// Runs `idp services …`.
pub async fn run(config: Config, cmd: ServicesCommand) -> Result<(), CliError> {
    let db = open(&config).await?;
    let now = Clock::system().now();
    match cmd {
        ServicesCommand::List => {
            for s in services::all(&db).await? {
                println!("{}\t{}\t{}", s.code, s.label, s.description);
            }
        }
        ServicesCommand::Show { code } => show(&db, &code).await?,
        ServicesCommand::Create {
            code,
            label,
            description,
            home_url,
            require_mfa,
        } => {
            let input = service_create::ServiceInput {
                code,
                label,
                description,
                home_url,
                require_mfa,
            };
            let saved = service_create::save_service(&db, input, now, "cli").await?;
            println!("service {} enregistré", saved.code);
        }
        ServicesCommand::AddRole {
            service: code,
            role,
            label,
            description,
        } => {
            let role = Role {
                code: role,
                label,
                description,
            };
            let role = service_add_role::save_role(&db, &code, role, now, "cli").await?;
            println!("rôle {} enregistré pour {code}", role.code);
        }
        ServicesCommand::LinkClient {
            service: code,
            client_id,
            requires_habilitation,
        } => {
            let required = requires_habilitation;
            service_link_client::link_client(&db, &code, &client_id, required, now, "cli").await?;
            println!("client {client_id} rattaché au service {code}");
        }
        ServicesCommand::Publish {
            service: code,
            kind,
            title,
            file,
        } => {
            let body = std::fs::read_to_string(&file).map_err(|e| {
                CliError::Invalid(format!("lecture de {} impossible : {e}", file.display()))
            })?;
            let kind = DocumentKind::from(kind);
            let published =
                service_publish::publish_document(&db, &code, kind, &title, &body, now, "cli");
            println!("version {} publiée", published.await?);
        }
    }
    Ok(())
}

async fn show(db: &Db, code: &str) -> Result<(), CliError> {
    let s = service(db, code).await?;
    println!("service : {} ({})", s.label, s.code);
    println!("description : {}", s.description);
    println!("page d'accueil : {}", s.home_url.as_deref().unwrap_or("-"));
    if services::requires_mfa(db, &s.code).await? {
        println!("double authentification exigée à chaque connexion");
    }
    for r in services::roles(db, &s.code).await? {
        println!("rôle : {}\t{}\t{}", r.code, r.label, r.description);
    }
    for (client, required) in services::clients(db, &s.code).await? {
        let note = if required {
            " (habilitation requise)"
        } else {
            ""
        };
        println!("client : {client}{note}");
    }
    for kind in [DocumentKind::Cgu, DocumentKind::Charte] {
        if let Some(d) = services::current_document(db, &s.code, kind).await? {
            println!("{} : version {} « {} »", kind.as_str(), d.version, d.title);
        }
    }
    Ok(())
}
