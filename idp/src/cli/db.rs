//! `idp db copy`: moves an installation to another engine, typically from the embedded SQLite
//! to PostgreSQL when it grows to several nodes ([`crate::store::copy`]).

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use super::CliError;
use crate::store::{Db, copy};

/// `idp db …`.
#[derive(Subcommand, Debug)]
pub enum DbCommand {
    /// Copies every row of one database into a new, empty one (migrated first), in batches,
    /// then compares the counts. Stop the nodes first: the source is only read.
    Copy {
        /// The source (`sqlite://…` or `postgres://…`).
        #[arg(long)]
        from: String,
        /// The target, empty (`postgres://…` or `sqlite://…?mode=rwc`).
        #[arg(long)]
        to: String,
    },
}

/// Runs `idp db …`.
pub async fn run(cmd: DbCommand) -> Result<(), CliError> {
    let DbCommand::Copy { from, to } = cmd;
    if from == to {
        return Err(CliError::Invalid(
            "la source et la cible sont la même base".into(),
        ));
    }
    let source = Db::connect(&from).await.map_err(crate::StartError::from)?;
    // The source must be of this version: an older one is migrated (as `idp serve` would).
    source.migrate().await.map_err(crate::StartError::from)?;
    let target = Db::connect(&to).await.map_err(crate::StartError::from)?;
    target.migrate().await.map_err(crate::StartError::from)?;
    let style = ProgressStyle::with_template("{prefix:>24} [{bar:30}] {pos}/{len}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let mut bar: Option<(String, ProgressBar)> = None;
    let copied = copy::copy(&source, &target, |table, done, total| {
        if bar.as_ref().is_none_or(|(t, _)| t != table) {
            if let Some((_, b)) = bar.take() {
                b.finish();
            }
            let b = ProgressBar::new(total).with_style(style.clone());
            b.set_prefix(table.to_owned());
            bar = Some((table.to_owned(), b));
        }
        if let Some((_, b)) = &bar {
            b.set_position(done);
        }
    })
    .await
    .map_err(|e| CliError::Invalid(e.to_string()))?;
    if let Some((_, b)) = bar.take() {
        b.finish();
    }
    let rows: i64 = copied.iter().map(|(_, n)| n).sum();
    println!(
        "{rows} ligne(s) copiée(s) dans {} tables, comptes vérifiés",
        copied.len()
    );
    Ok(())
}
