//! `idp codes …`: activation codes sent by post to establishments (the access actions
//! `issue_code` and `revoke_code`, as the agents' pages and the codes API call them).

use clap::Subcommand;

use super::{CliError, open, services::service};
use crate::{
    access::{
        actions::{
            issue_code::{CodeIssue, Issued, issue_code},
            revoke_code::revoke_code,
        },
        codes, dates,
        refusal::AccessRefusal,
    },
    clock::Clock,
    config::Config,
    organizations::Siret,
    store::Db,
};

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

/// A SIRET argument, parsed.
pub(super) fn siret_arg(s: &str) -> Result<Siret, CliError> {
    Siret::parse(s).map_err(|e| CliError::Invalid(format!("SIRET {s} : {e}")))
}

/// Runs `idp codes …`.
pub async fn run(config: Config, cmd: CodesCommand) -> Result<(), CliError> {
    let db = open(&config).await?;
    match cmd {
        CodesCommand::Issue {
            service: code,
            siret,
            json,
        } => issue(&db, &config, &code, &siret, json).await,
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
            Ok(())
        }
        CodesCommand::Revoke { id } => revoke(&db, &id).await,
    }
}

async fn issue(
    db: &Db,
    config: &Config,
    code: &str,
    siret: &str,
    json: bool,
) -> Result<(), CliError> {
    let s = service(db, code).await?;
    let siret = siret_arg(siret)?;
    let kek = crate::open_kek(config, db).await?;
    let key = kek.derive(codes::HASH_KEY_LABEL);
    let input = CodeIssue {
        by: "cli",
        service_code: &s.code,
        siret: &siret,
        ttl_seconds: i64::from(config.access.activation_code_ttl_days) * 86_400,
    };
    let Issued {
        code: issued,
        establishment,
    } = issue_code(db, &Clock::system(), &key, &input).await?;
    let (name, location) = (establishment.name.clone(), establishment.location());
    if json {
        let letter = serde_json::json!({
            "id": issued.id,
            "code": issued.code.as_str(),
            "service": s.code,
            "service_label": s.label,
            "siret": issued.siret,
            "establishment": name,
            "address": location,
            "expires_at": issued.expires_at,
            "assistance_phone": config.assistance.phone,
            "assistance_hours": config.assistance.hours,
        });
        println!("{letter}");
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
        println!(
            "assistance : N°Vert {} (service et appel gratuits), {}",
            config.assistance.phone, config.assistance.hours
        );
    }
    Ok(())
}

async fn revoke(db: &Db, id: &str) -> Result<(), CliError> {
    match revoke_code(db, &Clock::system(), "cli", id, None).await {
        Ok(_) => {
            println!("code {id} révoqué");
            Ok(())
        }
        // As before the action: a used or revoked code is « introuvable » for revocation.
        Err(AccessRefusal::NotRevocable) => Err(CliError::NotFound(format!(
            "introuvable : code {id} (ou déjà utilisé ou révoqué)"
        ))),
        Err(refusal) => Err(refusal.into()),
    }
}
