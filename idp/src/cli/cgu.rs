//! `idp cgu …`: EFP Connect's own conditions générales d'utilisation. A published version is
//! asked of everyone at their next login (`accounts::cgu`).

use std::path::PathBuf;

use clap::Subcommand;

use super::{CliError, open};
use crate::{
    accounts::{actions::publish_cgu::publish_cgu, cgu},
    clock::Clock,
    config::Config,
};

/// `idp cgu …`.
#[derive(Subcommand, Debug)]
pub enum CguCommand {
    /// Shows the current version's number, date and title.
    Show,
    /// Publishes a new version (text file, paragraphs separated by blank lines, `## ` before
    /// a heading): everyone is asked to accept it at their next login.
    Publish {
        /// Title.
        #[arg(long)]
        title: String,
        /// Text file.
        #[arg(long)]
        file: PathBuf,
    },
}

/// Runs `idp cgu …`.
pub async fn run(config: Config, cmd: CguCommand) -> Result<(), CliError> {
    let db = open(&config).await?;
    match cmd {
        CguCommand::Show => match cgu::current(&db).await? {
            Some(c) => println!(
                "version {} du {} « {} »",
                c.document.version,
                c.date(),
                c.document.title
            ),
            None => println!("aucune version publiée"),
        },
        CguCommand::Publish { title, file } => {
            let body = std::fs::read_to_string(&file).map_err(|e| {
                CliError::Invalid(format!("lecture de {} impossible : {e}", file.display()))
            })?;
            let now = Clock::system().now();
            let version = publish_cgu(&db, now, "cli", &title, &body)
                .await
                .map_err(|refused| match refused {
                    crate::accounts::refusal::AccountRefusal::Storage(e) => CliError::Db(e),
                    other => CliError::Invalid(other.to_string()),
                })?;
            println!("version {version} publiée");
        }
    }
    Ok(())
}
