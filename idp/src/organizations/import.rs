//! `idp sirene import`: fills the register from INSEE's public "StockEtablissement" file (CSV,
//! comma-separated, one header line, about fifty columns), streamed: the file is read on a
//! blocking thread while the previous batch is written, one transaction per batch, so memory
//! stays flat on the 40-million-line national stock.
//!
//! Columns are found by their header name; the others are ignored. Used: `siret` (required),
//! `siren`, `etatAdministratifEtablissement` (required, `A` or `F`), `etablissementSiege`,
//! `denominationUsuelleEtablissement`, `enseigne1Etablissement`, `numeroVoieEtablissement`,
//! `indiceRepetitionEtablissement`, `typeVoieEtablissement`, `libelleVoieEtablissement`,
//! `codePostalEtablissement`, `libelleCommuneEtablissement`.
//!
//! The raison sociale is not in StockEtablissement but in "StockUniteLegale"
//! (`denominationUniteLegale`). Two ways in: an extra `denominationUniteLegale` column in the
//! establishments file (joined extracts have one), or the StockUniteLegale file itself
//! (`--unites-legales`), read after the establishments in a second streamed pass that renames
//! every establishment of each company. Without either, an establishment is named by its
//! dénomination usuelle, else its enseigne.
//!
//! A line whose SIRET is malformed or fails its check digit, whose SIREN is not the SIRET's
//! first nine digits, or whose state is neither `A` nor `F`, is counted as invalid and skipped;
//! the import goes on. Re-running an import updates rows in place (upsert on the SIRET).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use super::{
    Siren, Siret,
    register::{self, Establishment},
};
use crate::store::{self, Db};

/// Rows per transaction.
pub const DEFAULT_BATCH: usize = 1000;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be opened.
    #[error("fichier {path} illisible : {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The header lacks a column we need.
    #[error(
        "fichier {path} : colonne « {column} » absente de l'en-tête (fichier StockEtablissement ou StockUniteLegale de l'INSEE attendu)"
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
    },
    /// The CSV itself is broken (unbalanced quotes, I/O error midway).
    #[error("fichier {path}, ligne {line} : {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// Line number, from 1 (the header).
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// The database refused a batch.
    #[error("base de données : {0}")]
    Db(#[from] sqlx::Error),
}

/// Where an import stands; given to the progress callback and returned at the end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Data lines read from the establishments file.
    pub read: u64,
    /// Establishments written (inserted or updated).
    pub imported: u64,
    /// Lines skipped as invalid.
    pub invalid: u64,
    /// Establishments new to the register (the table grew by this much).
    pub created: u64,
    /// Data lines read from the unités légales file.
    pub legal_units_read: u64,
    /// Establishments renamed after their company's raison sociale.
    pub renamed: u64,
    /// First invalid lines, for the operator: (line number, reason). At most ten.
    pub invalid_samples: Vec<(u64, String)>,
}

/// How an import runs.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// Rows per transaction.
    pub batch: usize,
    /// A progress line every this many lines read (0: none).
    pub progress_every: u64,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            batch: DEFAULT_BATCH,
            progress_every: 100_000,
        }
    }
}

/// Positions of the columns we read. Public (with [`Columns::locate`] and
/// [`Columns::establishment`]) so the fuzz targets in `fuzz/` reach the per-row parsing of
/// untrusted SIRENE files without a database.
pub struct Columns {
    siret: usize,
    siren: Option<usize>,
    state: usize,
    head_office: Option<usize>,
    legal_name: Option<usize>,
    usual_name: Option<usize>,
    sign: Option<usize>,
    number: Option<usize>,
    repetition: Option<usize>,
    street_type: Option<usize>,
    street: Option<usize>,
    postcode: Option<usize>,
    commune: Option<usize>,
}

impl Columns {
    /// Finds the columns we read in the header line; `path` only names the file in errors.
    pub fn locate(path: &Path, header: &csv::StringRecord) -> Result<Self, ImportError> {
        let find = |name: &str| header.iter().position(|h| h.trim() == name);
        let need = |name: &'static str| {
            find(name).ok_or_else(|| ImportError::MissingColumn {
                path: path.to_owned(),
                column: name,
            })
        };
        Ok(Self {
            siret: need("siret")?,
            siren: find("siren"),
            state: need("etatAdministratifEtablissement")?,
            head_office: find("etablissementSiege"),
            legal_name: find("denominationUniteLegale"),
            usual_name: find("denominationUsuelleEtablissement"),
            sign: find("enseigne1Etablissement"),
            number: find("numeroVoieEtablissement"),
            repetition: find("indiceRepetitionEtablissement"),
            street_type: find("typeVoieEtablissement"),
            street: find("libelleVoieEtablissement"),
            postcode: find("codePostalEtablissement"),
            commune: find("libelleCommuneEtablissement"),
        })
    }

    /// One line → an establishment, or why it is invalid.
    pub fn establishment(&self, record: &csv::StringRecord) -> Result<Establishment, String> {
        let get = |i: Option<usize>| i.and_then(|i| record.get(i)).unwrap_or("").trim();
        let siret_text = get(Some(self.siret));
        let siret =
            Siret::parse(siret_text).map_err(|e| format!("SIRET « {siret_text} » : {e}"))?;
        let siren = get(self.siren);
        if !siren.is_empty() && siren != siret.siren().as_str() {
            return Err(format!(
                "SIREN « {siren} » différent des neuf premiers chiffres du SIRET {siret}"
            ));
        }
        let active = match get(Some(self.state)) {
            "A" => true,
            "F" => false,
            other => return Err(format!("état administratif « {other} » (A ou F attendu)")),
        };
        let head_office = matches!(
            get(self.head_office).to_ascii_lowercase().as_str(),
            "true" | "1" | "oui" | "o"
        );
        let name = [self.legal_name, self.usual_name, self.sign]
            .into_iter()
            .map(get)
            .find(|s| !s.is_empty() && *s != "[ND]")
            .unwrap_or("")
            .to_owned();
        let street_type = get(self.street_type);
        let address = [
            get(self.number),
            get(self.repetition),
            street_type_label(street_type),
            get(self.street),
        ]
        .into_iter()
        .filter(|s| !s.is_empty() && *s != "[ND]")
        .collect::<Vec<_>>()
        .join(" ");
        let clean = |s: &str| {
            if s == "[ND]" {
                String::new()
            } else {
                s.to_owned()
            }
        };
        Ok(Establishment {
            siret,
            name,
            address,
            postcode: clean(get(self.postcode)),
            commune: clean(get(self.commune)),
            active,
            head_office,
        })
    }
}

/// INSEE's street type codes, spelt out (others are kept as they are).
pub(crate) fn street_type_label(code: &str) -> &str {
    match code {
        "ALL" => "ALLEE",
        "AV" => "AVENUE",
        "BD" => "BOULEVARD",
        "CHE" => "CHEMIN",
        "CRS" => "COURS",
        "IMP" => "IMPASSE",
        "PL" => "PLACE",
        "QUA" => "QUARTIER",
        "RTE" => "ROUTE",
        "SQ" => "SQUARE",
        "ZA" => "ZONE ARTISANALE",
        "ZI" => "ZONE INDUSTRIELLE",
        other => other,
    }
}

fn reader(path: &Path) -> Result<csv::Reader<std::fs::File>, ImportError> {
    let file = std::fs::File::open(path).map_err(|source| ImportError::Open {
        path: path.to_owned(),
        source,
    })?;
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(file))
}

/// A broken line: its number from the parser when it knows it, else `line`.
fn csv_error(path: &Path, line: u64, e: &csv::Error) -> ImportError {
    ImportError::Csv {
        path: path.to_owned(),
        line: e.position().map_or(line, csv::Position::line),
        message: e.to_string(),
    }
}

/// What the reading thread sends: a batch with the counts of its lines, or the end.
enum Chunk {
    Batch {
        rows: Vec<Establishment>,
        read: u64,
        invalid: Vec<(u64, String)>,
    },
    Failed(ImportError),
}

/// Imports `establishments` (and `legal_units`, if given) into the register. `progress` is
/// called every `options.progress_every` lines read and at the end of each pass (never when
/// `progress_every` is 0).
pub async fn import(
    db: &Db,
    establishments: &Path,
    legal_units: Option<&Path>,
    options: &ImportOptions,
    mut progress: impl FnMut(&ImportReport),
) -> Result<ImportReport, ImportError> {
    let before = register::count(db).await?;
    let batch = options.batch.max(1);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(2);
    let path = establishments.to_owned();
    let producer = tokio::task::spawn_blocking(move || read_establishments(&path, batch, &tx));
    let mut report = ImportReport::default();
    let mut next_progress = options.progress_every;
    let mut reported = 0u64;
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Chunk::Failed(e) => return Err(e),
            Chunk::Batch {
                rows,
                read,
                invalid,
            } => {
                register::upsert(db, &rows, store::now()).await?;
                report.read += read;
                report.imported += rows.len() as u64;
                report.invalid += invalid.len() as u64;
                for sample in invalid {
                    if report.invalid_samples.len() < 10 {
                        report.invalid_samples.push(sample);
                    }
                }
                if options.progress_every > 0 && report.read >= next_progress {
                    progress(&report);
                    reported = report.read;
                    while next_progress <= report.read {
                        next_progress += options.progress_every;
                    }
                }
            }
        }
    }
    let _ = producer.await;
    report.created = register::count(db).await?.saturating_sub(before);
    if options.progress_every > 0 && (reported != report.read || report.read == 0) {
        progress(&report);
    }
    if let Some(legal_units) = legal_units {
        rename_from_legal_units(db, legal_units, options, &mut report, &mut progress).await?;
    }
    Ok(report)
}

/// The reading thread: parses lines into batches and sends them; stops at the first broken
/// line of CSV (invalid *values* are only counted).
fn read_establishments(path: &Path, batch: usize, tx: &tokio::sync::mpsc::Sender<Chunk>) {
    let send = |chunk| tx.blocking_send(chunk).is_ok();
    let mut rdr = match reader(path) {
        Ok(r) => r,
        Err(e) => {
            send(Chunk::Failed(e));
            return;
        }
    };
    let columns = match rdr.headers() {
        Ok(h) => match Columns::locate(path, h) {
            Ok(c) => c,
            Err(e) => {
                send(Chunk::Failed(e));
                return;
            }
        },
        Err(e) => {
            send(Chunk::Failed(csv_error(path, 1, &e)));
            return;
        }
    };
    let mut record = csv::StringRecord::new();
    let mut rows = Vec::with_capacity(batch);
    let mut invalid = Vec::new();
    let mut read = 0u64;
    let mut line = 1u64;
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                line += 1;
                read += 1;
                match columns.establishment(&record) {
                    Ok(e) => rows.push(e),
                    Err(reason) => {
                        let at = record.position().map_or(line, csv::Position::line);
                        invalid.push((at, reason));
                    }
                }
                if rows.len() >= batch {
                    let chunk = Chunk::Batch {
                        rows: std::mem::replace(&mut rows, Vec::with_capacity(batch)),
                        read: std::mem::take(&mut read),
                        invalid: std::mem::take(&mut invalid),
                    };
                    if !send(chunk) {
                        return;
                    }
                }
            }
            Err(e) => {
                send(Chunk::Failed(csv_error(path, line + 1, &e)));
                return;
            }
        }
    }
    send(Chunk::Batch {
        rows,
        read,
        invalid,
    });
}

/// Second pass: `StockUniteLegale` (`siren`, `denominationUniteLegale`); each company's
/// raison sociale becomes the name of its establishments. Companies without a denomination
/// (individual entrepreneurs) keep their establishments' own names.
async fn rename_from_legal_units(
    db: &Db,
    path: &Path,
    options: &ImportOptions,
    report: &mut ImportReport,
    progress: &mut impl FnMut(&ImportReport),
) -> Result<(), ImportError> {
    let batch = options.batch.max(1);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<LegalUnitChunk>(2);
    let owned = path.to_owned();
    let producer = tokio::task::spawn_blocking(move || read_legal_units(&owned, batch, &tx));
    let mut next_progress = options.progress_every;
    let mut reported = 0u64;
    while let Some(chunk) = rx.recv().await {
        let (names, read) = chunk?;
        let now = store::now();
        let mut txn = db.begin().await?;
        for (siren, name) in &names {
            report.renamed += register::rename_company(&mut txn, siren, name, now).await?;
        }
        txn.commit().await?;
        report.legal_units_read += read;
        if options.progress_every > 0 && report.legal_units_read >= next_progress {
            progress(report);
            reported = report.legal_units_read;
            while next_progress <= report.legal_units_read {
                next_progress += options.progress_every;
            }
        }
    }
    let _ = producer.await;
    if options.progress_every > 0 && (reported != report.legal_units_read || reported == 0) {
        progress(report);
    }
    Ok(())
}

type LegalUnitChunk = Result<(Vec<(Siren, String)>, u64), ImportError>;

fn read_legal_units(path: &Path, batch: usize, tx: &tokio::sync::mpsc::Sender<LegalUnitChunk>) {
    let send = |chunk| tx.blocking_send(chunk).is_ok();
    let mut rdr = match reader(path) {
        Ok(r) => r,
        Err(e) => {
            send(Err(e));
            return;
        }
    };
    let header = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            send(Err(csv_error(path, 1, &e)));
            return;
        }
    };
    let position: HashMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim(), i))
        .collect();
    let (Some(&siren_at), Some(&name_at)) = (
        position.get("siren"),
        position.get("denominationUniteLegale"),
    ) else {
        let column = if position.contains_key("siren") {
            "denominationUniteLegale"
        } else {
            "siren"
        };
        send(Err(ImportError::MissingColumn {
            path: path.to_owned(),
            column,
        }));
        return;
    };
    let mut record = csv::StringRecord::new();
    let mut names = Vec::with_capacity(batch);
    let mut read = 0u64;
    let mut line = 1u64;
    loop {
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                line += 1;
                read += 1;
                let name = record.get(name_at).unwrap_or("").trim();
                if name.is_empty() || name == "[ND]" {
                    continue;
                }
                if let Ok(siren) = Siren::parse(record.get(siren_at).unwrap_or("")) {
                    names.push((siren, name.to_owned()));
                }
                if names.len() >= batch
                    && !send(Ok((
                        std::mem::replace(&mut names, Vec::with_capacity(batch)),
                        std::mem::take(&mut read),
                    )))
                {
                    return;
                }
            }
            Err(e) => {
                send(Err(csv_error(path, line + 1, &e)));
                return;
            }
        }
    }
    send(Ok((names, read)));
}
