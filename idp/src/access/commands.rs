//! `idp services …`, `idp codes …` and `idp habilitations …`: what operators and ministry
//! agents do from the command line. Errors are the CLI's typed [`CliError`].

use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};

use super::{
    EndDate, codes, dates,
    habilitations::{self, GrantedHow, NewHabilitation},
    managers,
    services::{self, DocumentKind, Role, Service},
};
use crate::{
    accounts::{Email, store as users},
    cli::CliError,
    config::Config,
    keys::kek::Kek,
    organizations::{Siret, register},
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

/// `idp codes …`.
#[derive(Subcommand, Debug)]
pub enum CodesCommand {
    /// Issues an activation code for an establishment (revokes the previous unused one) and
    /// prints what the postal letter needs.
    Issue {
        /// Service code.
        #[arg(long, default_value = "ceres")]
        service: String,
        /// SIRET of the establishment.
        #[arg(long)]
        siret: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Lists the codes of a service (never the codes themselves).
    List {
        /// Service code.
        #[arg(long, default_value = "ceres")]
        service: String,
        /// Only this establishment.
        #[arg(long)]
        siret: Option<String>,
    },
    /// Revokes a code that was not used.
    Revoke {
        /// Code id (from `idp codes list`).
        id: String,
    },
}

/// `idp habilitations …`.
#[derive(Subcommand, Debug)]
pub enum HabilitationsCommand {
    /// Lists a person's habilitations and Responsable des accès rights for a service.
    List {
        /// The person's e-mail.
        #[arg(long)]
        email: String,
        /// Service code.
        #[arg(long, default_value = "ceres")]
        service: String,
    },
    /// Grants a habilitation (support and bootstrapping); `--manager` also makes the person
    /// Responsable des accès of the establishment.
    Grant {
        /// The person's e-mail.
        #[arg(long)]
        email: String,
        /// Service code.
        #[arg(long, default_value = "ceres")]
        service: String,
        /// Establishment.
        #[arg(long)]
        siret: String,
        /// Role code.
        #[arg(long)]
        role: String,
        /// Last day (JJ/MM/AAAA or AAAA-MM-JJ).
        #[arg(long)]
        end_date: Option<String>,
        /// Also Responsable des accès.
        #[arg(long)]
        manager: bool,
    },
}

async fn open(config: &Config) -> Result<Db, CliError> {
    let db = Db::connect(&config.database_url)
        .await
        .map_err(crate::StartError::from)?;
    db.migrate().await.map_err(crate::StartError::from)?;
    Ok(db)
}

fn valid_code(code: &str) -> Result<(), CliError> {
    let ok = !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CliError::Invalid(format!(
            "code invalide « {code} » : lettres minuscules, chiffres et _ (40 au plus)"
        )))
    }
}

async fn service(db: &Db, code: &str) -> Result<Service, CliError> {
    services::by_code(db, code)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("service {code}")))
}

/// Runs `idp services …`.
pub async fn services_cmd(config: Config, cmd: ServicesCommand) -> Result<(), CliError> {
    let db = open(&config).await?;
    match cmd {
        ServicesCommand::List => {
            for s in services::all(&db).await? {
                println!("{}\t{}\t{}", s.code, s.label, s.description);
            }
        }
        ServicesCommand::Show { code } => {
            let s = service(&db, &code).await?;
            println!("service : {} ({})", s.label, s.code);
            println!("description : {}", s.description);
            println!("page d'accueil : {}", s.home_url.as_deref().unwrap_or("-"));
            for r in services::roles(&db, &s.code).await? {
                println!("rôle : {}\t{}\t{}", r.code, r.label, r.description);
            }
            for (client, required) in services::clients(&db, &s.code).await? {
                let note = if required {
                    " (habilitation requise)"
                } else {
                    ""
                };
                println!("client : {client}{note}");
            }
            for kind in [DocumentKind::Cgu, DocumentKind::Charte] {
                if let Some(d) = services::current_document(&db, &s.code, kind).await? {
                    println!("{} : version {} « {} »", kind.as_str(), d.version, d.title);
                }
            }
        }
        ServicesCommand::Create {
            code,
            label,
            description,
            home_url,
        } => {
            valid_code(&code)?;
            if label.trim().is_empty() {
                return Err(CliError::Invalid("--label ne peut pas être vide".into()));
            }
            if let Some(u) = &home_url {
                url::Url::parse(u)
                    .map_err(|_| CliError::Invalid(format!("--home-url invalide : {u}")))?;
            }
            // An update changes what it is given: the seeded CERES keeps its description when
            // an operator only sets its home page.
            let existing = services::by_code(&db, &code).await?;
            services::upsert(
                &db,
                &Service {
                    code: code.clone(),
                    label: label.trim().to_owned(),
                    description: description
                        .or_else(|| existing.as_ref().map(|s| s.description.clone()))
                        .unwrap_or_default(),
                    home_url: home_url.or_else(|| existing.and_then(|s| s.home_url)),
                },
            )
            .await?;
            crate::audit::record_on_pool(&db, "cli", "service.saved", &code, serde_json::json!({}))
                .await?;
            println!("service {code} enregistré");
        }
        ServicesCommand::AddRole {
            service: code,
            role,
            label,
            description,
        } => {
            let s = service(&db, &code).await?;
            valid_code(&role)?;
            if label.trim().is_empty() {
                return Err(CliError::Invalid("--label ne peut pas être vide".into()));
            }
            services::upsert_role(
                &db,
                &s.code,
                &Role {
                    code: role.clone(),
                    label: label.trim().to_owned(),
                    description,
                },
            )
            .await?;
            crate::audit::record_on_pool(
                &db,
                "cli",
                "service.role_saved",
                &s.code,
                serde_json::json!({"role": role}),
            )
            .await?;
            println!("rôle {role} enregistré pour {}", s.code);
        }
        ServicesCommand::LinkClient {
            service: code,
            client_id,
            requires_habilitation,
        } => {
            let s = service(&db, &code).await?;
            if crate::oidc::clients::client_by_id(&db, &client_id)
                .await?
                .is_none()
            {
                return Err(CliError::NotFound(format!("client {client_id}")));
            }
            services::link_client(&db, &s.code, &client_id, requires_habilitation).await?;
            crate::audit::record_on_pool(
                &db,
                "cli",
                "service.client_linked",
                &s.code,
                serde_json::json!({"client_id": client_id, "requires_habilitation": requires_habilitation}),
            )
            .await?;
            println!("client {client_id} rattaché au service {}", s.code);
        }
        ServicesCommand::Publish {
            service: code,
            kind,
            title,
            file,
        } => {
            let s = service(&db, &code).await?;
            let body = std::fs::read_to_string(&file).map_err(|e| {
                CliError::Invalid(format!("lecture de {} impossible : {e}", file.display()))
            })?;
            if body.trim().is_empty() || title.trim().is_empty() {
                return Err(CliError::Invalid(
                    "le titre et le texte ne peuvent pas être vides".into(),
                ));
            }
            let version =
                services::publish_document(&db, &s.code, kind.into(), title.trim(), body.trim())
                    .await?;
            crate::audit::record_on_pool(
                &db,
                "cli",
                "service.document_published",
                &s.code,
                serde_json::json!({"kind": DocumentKind::from(kind).as_str(), "version": version}),
            )
            .await?;
            println!("version {version} publiée");
        }
    }
    Ok(())
}

fn siret_arg(s: &str) -> Result<Siret, CliError> {
    Siret::parse(s).map_err(|e| CliError::Invalid(format!("SIRET {s} : {e}")))
}

/// Runs `idp codes …`.
pub async fn codes_cmd(config: Config, cmd: CodesCommand) -> Result<(), CliError> {
    let db = open(&config).await?;
    match cmd {
        CodesCommand::Issue {
            service: code,
            siret,
            json,
        } => {
            let s = service(&db, &code).await?;
            let siret = siret_arg(&siret)?;
            let establishment = register::by_siret(&db, &siret).await?;
            if establishment.as_ref().is_some_and(|e| !e.active) {
                return Err(CliError::Invalid(format!(
                    "l'établissement {siret} est fermé : il ne peut pas recevoir de code d'activation"
                )));
            }
            let kek = Kek::load(config.keys.kek.as_deref(), &config.keys.dir)
                .map_err(crate::StartError::from)?;
            let key = kek.derive(codes::HASH_KEY_LABEL);
            let ttl = i64::from(config.access.activation_code_ttl_days) * 86_400;
            let issued = codes::issue(&db, &key, &s.code, siret.as_str(), "cli", ttl).await?;
            crate::audit::record_on_pool(
                &db,
                "cli",
                "activation_code.issued",
                siret.as_str(),
                serde_json::json!({"service": s.code, "code_id": issued.id}),
            )
            .await?;
            let (name, location) = establishment
                .map(|e| (e.name.clone(), e.location()))
                .unwrap_or_default();
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": issued.id,
                        "code": issued.code.as_str(),
                        "service": s.code,
                        "service_label": s.label,
                        "siret": issued.siret,
                        "establishment": name,
                        "address": location,
                        "expires_at": issued.expires_at,
                    })
                );
            } else {
                println!("code d'activation : {}", issued.code.as_str());
                println!("identifiant : {}", issued.id);
                println!("service : {} ({})", s.label, s.code);
                println!("établissement : {} {name}", issued.siret);
                println!("adresse : {location}");
                println!(
                    "valable jusqu'au : {}",
                    dates::french_date(issued.expires_at)
                );
            }
        }
        CodesCommand::List {
            service: code,
            siret,
        } => {
            let s = service(&db, &code).await?;
            let siret = siret.as_deref().map(siret_arg).transpose()?;
            for c in codes::list(&db, &s.code, siret.as_ref().map(Siret::as_str)).await? {
                println!(
                    "{}\t{}\t{}\témis le {} par {}\tjusqu'au {}",
                    c.id,
                    c.siret,
                    c.status.label(),
                    dates::french_date(c.issued_at),
                    c.issued_by,
                    dates::french_date(c.expires_at)
                );
            }
        }
        CodesCommand::Revoke { id } => {
            if !codes::revoke(&db, &id).await? {
                return Err(CliError::NotFound(format!(
                    "code {id} (ou déjà utilisé ou révoqué)"
                )));
            }
            crate::audit::record_on_pool(
                &db,
                "cli",
                "activation_code.revoked",
                &id,
                serde_json::json!({}),
            )
            .await?;
            println!("code {id} révoqué");
        }
    }
    Ok(())
}

/// Runs `idp habilitations …`.
pub async fn habilitations_cmd(config: Config, cmd: HabilitationsCommand) -> Result<(), CliError> {
    let db = open(&config).await?;
    let user_of = |email: &str| {
        let db = db.clone();
        let email = email.to_owned();
        async move {
            let parsed = Email::parse(&email).map_err(|e| CliError::Invalid(e.to_string()))?;
            users::user_by_email(&db, &parsed)
                .await?
                .ok_or_else(|| CliError::NotFound(format!("compte {email}")))
        }
    };
    match cmd {
        HabilitationsCommand::List {
            email,
            service: code,
        } => {
            let user = user_of(&email).await?;
            let s = service(&db, &code).await?;
            for siret in managers::establishments_of(&db, &user.id, &s.code).await? {
                println!("responsable des accès\t{siret}");
            }
            for h in habilitations::of_user(&db, &user.id, &s.code).await? {
                let end = h.end_date.map_or("-".to_owned(), |d| d.french());
                let live = if h.is_live() { "" } else { "\t(terminée)" };
                println!(
                    "{}\t{}\t{}\tfin : {end}\t{}{live}",
                    h.id,
                    h.siret,
                    h.role_label,
                    h.origin()
                );
            }
        }
        HabilitationsCommand::Grant {
            email,
            service: code,
            siret,
            role,
            end_date,
            manager,
        } => {
            let user = user_of(&email).await?;
            let s = service(&db, &code).await?;
            let siret = siret_arg(&siret)?;
            if register::by_siret(&db, &siret)
                .await?
                .is_some_and(|e| !e.active)
            {
                return Err(CliError::Invalid(format!(
                    "l'établissement {siret} est fermé : il ne peut pas recevoir de nouvelle habilitation"
                )));
            }
            if services::role(&db, &s.code, &role).await?.is_none() {
                return Err(CliError::NotFound(format!(
                    "rôle {role} du service {}",
                    s.code
                )));
            }
            let end_date = end_date
                .as_deref()
                .map(|d| EndDate::parse(d, dates::today()))
                .transpose()
                .map_err(|e| CliError::Invalid(e.to_string()))?;
            let id = habilitations::grant(
                &db,
                &NewHabilitation {
                    user_id: &user.id,
                    service_code: &s.code,
                    siret: siret.as_str(),
                    role: &role,
                    end_date,
                    granted_by: None,
                    how: GrantedHow::Operator,
                },
            )
            .await?;
            if manager {
                managers::grant(
                    &db,
                    &user.id,
                    &s.code,
                    siret.as_str(),
                    None,
                    GrantedHow::Operator,
                )
                .await?;
            }
            crate::audit::record_on_pool(
                &db,
                "cli",
                "habilitation.granted",
                &user.id,
                serde_json::json!({"service": s.code, "siret": siret.as_str(), "role": role, "manager": manager}),
            )
            .await?;
            println!("habilitation {id} accordée");
        }
    }
    Ok(())
}
