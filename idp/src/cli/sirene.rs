//! `idp sirene …`: the local copy of INSEE's SIRENE register.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::{CliError, open};
use crate::{
    config::Config,
    organizations::{import, insee, register},
};

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

/// Runs `idp sirene …`.
pub async fn run(config: Config, cmd: SireneCommand) -> Result<(), CliError> {
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
            import_files(&config, &file, unites_legales.as_deref(), &options).await
        }
        SireneCommand::Search { query, page } => {
            let query = register::Query::parse(&query)?;
            let db = open(&config).await?;
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
            let (page, pages) = (found.page, found.pages());
            println!("{} (page {page} sur {pages})", found.summary());
            Ok(())
        }
    }
}

async fn import_files(
    config: &Config,
    file: &Path,
    unites_legales: Option<&Path>,
    options: &import::ImportOptions,
) -> Result<(), CliError> {
    // Check the files before touching the database.
    for path in std::iter::once(file).chain(unites_legales) {
        std::fs::File::open(path).map_err(|source| import::ImportError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let db = open(config).await?;
    let started = std::time::Instant::now();
    let report = import::import(&db, file, unites_legales, options, |r| {
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
    Ok(())
}
