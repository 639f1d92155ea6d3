//! `idp habilitations …`: a person's habilitations, and granting one (support, bootstrapping,
//! through the same rules as the pages: `access::actions::grant_habilitation`).

use clap::Subcommand;

use super::{CliError, codes::siret_arg, open, services::service};
use crate::{
    access::{
        EndDate,
        actions::{
            HabilitationGrant,
            change_end_date::{self, ChangedBy},
            grant_habilitation,
        },
        dates, habilitations, managers,
        services::Service,
    },
    accounts::{Email, UserId, store as users},
    clock::Clock,
    config::Config,
    organizations::Siret,
    store::Db,
};

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
        /// Last day (MM/AAAA: the month's last day; JJ/MM/AAAA or AAAA-MM-JJ).
        #[arg(long)]
        end_date: Option<String>,
        /// Also Responsable des accès.
        #[arg(long)]
        manager: bool,
    },
    /// Changes the last day of a habilitation (its id: `idp habilitations list`); the person
    /// is not e-mailed (operators tell them themselves).
    EndDate {
        /// The habilitation's id.
        #[arg(long)]
        id: String,
        /// Service code.
        #[arg(long, default_value = "ceres")]
        service: String,
        /// The new last day (MM/AAAA: the month's last day; JJ/MM/AAAA or AAAA-MM-JJ).
        #[arg(
            long,
            required_unless_present = "no_end_date",
            conflicts_with = "no_end_date"
        )]
        end_date: Option<String>,
        /// No end: the habilitation lasts until removed.
        #[arg(long)]
        no_end_date: bool,
    },
}

/// Runs `idp habilitations …`.
pub async fn run(config: Config, cmd: HabilitationsCommand) -> Result<(), CliError> {
    let db = open(&config).await?;
    match cmd {
        HabilitationsCommand::List {
            email,
            service: code,
        } => list(&db, &email, &code).await,
        HabilitationsCommand::Grant {
            email,
            service: code,
            siret,
            role,
            end_date,
            manager,
        } => {
            let user = user_of(&db, &email).await?;
            let s = service(&db, &code).await?;
            let siret = siret_arg(&siret)?;
            grant(&db, &user, &s, &siret, &role, end_date.as_deref(), manager).await
        }
        HabilitationsCommand::EndDate {
            id,
            service: code,
            end_date,
            no_end_date: _,
        } => {
            let s = service(&db, &code).await?;
            let end_date = end_date_arg(end_date.as_deref())?;
            let changed = change_end_date::change_end_date(
                &db,
                &Clock::system(),
                ChangedBy::Operator,
                &s,
                &id,
                end_date,
            )
            .await?;
            let end = changed
                .after
                .end_date
                .map_or("-".to_owned(), |d| d.french());
            if changed.changed() {
                println!("habilitation {id} : fin {end}");
            } else {
                println!("habilitation {id} : fin {end} (inchangée)");
            }
            Ok(())
        }
    }
}

/// A typed last day, parsed as the pages do.
fn end_date_arg(end_date: Option<&str>) -> Result<Option<EndDate>, CliError> {
    end_date
        .map(|d| EndDate::parse(d, dates::today()))
        .transpose()
        .map_err(|e| CliError::Invalid(e.to_string()))
}

async fn user_of(db: &Db, email: &str) -> Result<users::User, CliError> {
    let parsed = Email::parse(email).map_err(|e| CliError::Invalid(e.to_string()))?;
    users::user_by_email(db, &parsed)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("introuvable : compte {email}")))
}

async fn list(db: &Db, email: &str, code: &str) -> Result<(), CliError> {
    let user = user_of(db, email).await?;
    let s = service(db, code).await?;
    for siret in managers::establishments_of(db, &user.id, &s.code).await? {
        println!("responsable des accès\t{siret}");
    }
    for h in habilitations::of_user(db, &user.id, &s.code).await? {
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
    Ok(())
}

async fn grant(
    db: &Db,
    user: &users::User,
    service: &Service,
    siret: &Siret,
    role: &str,
    end_date: Option<&str>,
    manager: bool,
) -> Result<(), CliError> {
    let end_date = end_date_arg(end_date)?;
    let input = HabilitationGrant {
        person: &UserId::from_stored(user.id.clone()),
        service,
        siret,
        role,
        end_date,
    };
    let id = grant_habilitation::grant_habilitation(db, &Clock::system(), "cli", &input, manager)
        .await?;
    println!("habilitation {id} accordée");
    Ok(())
}
