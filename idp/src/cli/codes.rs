//! `idp codes …`: activation codes sent by post to establishments.
//!
//! TODO(issue 12, lead): `issue` and `revoke` still call `access::codes::{issue, revoke}` and
//! write their event apart; wire them to the access actions `issue_code` / `revoke_code` (another
//! helper's) after the merge: see the two marked calls below.

use clap::Subcommand;

use super::{CliError, open, services::service};
use crate::{
    access::{codes, dates},
    audit,
    clock::Clock,
    config::Config,
    keys::kek::Kek,
    organizations::{Siret, register},
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
    let establishment = register::by_siret(db, &siret).await?;
    if establishment.as_ref().is_some_and(|e| !e.active) {
        return Err(CliError::Invalid(format!(
            "l'établissement {siret} est fermé : il ne peut pas recevoir de code d'activation"
        )));
    }
    let kek =
        Kek::load(config.keys.kek.as_deref(), &config.keys.dir).map_err(crate::StartError::from)?;
    let key = kek.derive(codes::HASH_KEY_LABEL);
    let ttl = i64::from(config.access.activation_code_ttl_days) * 86_400;
    // TODO(issue 12, lead): the access action `issue_code` here (it applies the closed and
    // unknown-establishment rules, and records `activation_code.issued` in its transaction).
    let issued = codes::issue(db, &key, &s.code, siret.as_str(), "cli", ttl).await?;
    audit::record_alone(
        db,
        Clock::system().now(),
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
        let letter = serde_json::json!({
            "id": issued.id,
            "code": issued.code.as_str(),
            "service": s.code,
            "service_label": s.label,
            "siret": issued.siret,
            "establishment": name,
            "address": location,
            "expires_at": issued.expires_at,
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
    }
    Ok(())
}

async fn revoke(db: &Db, id: &str) -> Result<(), CliError> {
    // TODO(issue 12, lead): the access action `revoke_code` here (with `activation_code.revoked`
    // in its transaction).
    if !codes::revoke(db, id).await? {
        return Err(CliError::NotFound(format!(
            "introuvable : code {id} (ou déjà utilisé ou révoqué)"
        )));
    }
    audit::record_alone(
        db,
        Clock::system().now(),
        "cli",
        "activation_code.revoked",
        id,
        serde_json::json!({}),
    )
    .await?;
    println!("code {id} révoqué");
    Ok(())
}
