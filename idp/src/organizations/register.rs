//! The local SIRENE register: establishments (SIRET) of companies (SIREN) with their name,
//! address and state, filled by `idp sirene import` (see [`super::import`]) and by the INSEE
//! API adapter (see [`super::insee`]); searched by raison sociale, SIREN or SIRET.
//!
//! Name search is a prefix search on `name_search`, the name folded to lower-case ASCII
//! letters, digits and single spaces. It is an index range (`>= 'afpa' AND < 'afpa~'`,
//! `~` sorting after every folded character), so it stays fast on the national stock, on
//! both engines (PostgreSQL's column is `COLLATE "C"`). Ranking: an exact name first, then
//! open before closed establishments, head offices first, then by name and SIRET; a prefix
//! matching more than [`RANKED_MAX`] establishments is listed in name order (the index's).

use sqlx::Row;

use super::{Siren, SirenError, Siret};
use crate::store::Db;

/// Results per page of a search.
pub const PAGE_SIZE: u32 = 10;
/// Shortest name prefix searched (folded characters).
pub const MIN_NAME_CHARS: usize = 2;
/// Longest query accepted.
pub const MAX_QUERY_CHARS: usize = 200;
/// Beyond this many matches a name search is too broad for ranking to help: its results come
/// in name order, straight from the index, instead of being sorted (see [`search`]).
pub const RANKED_MAX: u64 = 500;
/// Rows per multi-row upsert statement (10 columns each: well under both engines' limits).
const ROWS_PER_STATEMENT: usize = 100;

/// One establishment of the register.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Establishment {
    /// Its SIRET (the SIREN is its first nine digits).
    pub siret: Siret,
    /// Raison sociale of its company, else its dénomination usuelle, else its enseigne.
    pub name: String,
    /// Street address: "12 RUE DES LILAS" (may be empty).
    pub address: String,
    /// Code postal (may be empty).
    pub postcode: String,
    /// Commune (may be empty).
    pub commune: String,
    /// Open (INSEE state `A`); closed (`F`) establishments get no new habilitation.
    pub active: bool,
    /// Head office (siège) of its company.
    pub head_office: bool,
}

impl Establishment {
    /// The SIREN of its company.
    pub fn siren(&self) -> Siren {
        self.siret.siren()
    }

    /// "75015 PARIS 15" with the street before it when known, for lists.
    pub fn location(&self) -> String {
        [
            self.address.as_str(),
            self.postcode.as_str(),
            self.commune.as_str(),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// What a person typed in the search box, recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// 14 digits: one establishment.
    Siret(Siret),
    /// 9 digits: the establishments of one company.
    Siren(Siren),
    /// Anything else: a prefix of the (folded) name.
    Name(String),
}

/// Why a query cannot be searched.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    /// Nothing typed.
    #[error("Saisissez une raison sociale, un SIREN ou un SIRET.")]
    Empty,
    /// A name prefix too short to search.
    #[error("Saisissez au moins {MIN_NAME_CHARS} caractères de la raison sociale.")]
    TooShort,
    /// Longer than anything sensible.
    #[error("La recherche ne peut dépasser {MAX_QUERY_CHARS} caractères.")]
    TooLong,
    /// Only digits, but not a valid SIREN or SIRET.
    #[error("{0}")]
    Number(SirenError),
}

impl Query {
    /// Digits only (spaces aside) → a SIREN or SIRET (checked); otherwise a name prefix.
    pub fn parse(input: &str) -> Result<Self, QueryError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(QueryError::Empty);
        }
        if input.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        let compact: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.chars().all(|c| c.is_ascii_digit()) {
            return if compact.len() == 14 {
                Siret::parse(&compact)
                    .map(Self::Siret)
                    .map_err(QueryError::Number)
            } else {
                Siren::parse(&compact)
                    .map(Self::Siren)
                    .map_err(QueryError::Number)
            };
        }
        let folded = fold(input);
        if folded.chars().count() < MIN_NAME_CHARS {
            return Err(QueryError::TooShort);
        }
        Ok(Self::Name(folded))
    }
}

/// One page of search results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchPage {
    /// The establishments of this page, best first.
    pub results: Vec<Establishment>,
    /// How many establishments match in all.
    pub total: u64,
    /// This page, from 1.
    pub page: u32,
    /// Results per page.
    pub per_page: u32,
}

impl SearchPage {
    /// How many pages the results fill (at least 1).
    pub fn pages(&self) -> u32 {
        let pages = self.total.div_ceil(u64::from(self.per_page)).max(1);
        u32::try_from(pages).unwrap_or(u32::MAX)
    }

    /// "3 résultats affichés sur 12", the wording of the ministry's pages.
    pub fn summary(&self) -> String {
        format!(
            "{} résultats affichés sur {}",
            self.results.len(),
            self.total
        )
    }
}

/// `name` folded for search: lower-case, accents removed (é → e, œ → oe), every other
/// character but ASCII letters and digits turned into a space, spaces collapsed.
pub fn fold(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut space = true; // no leading space
    for c in name.chars().flat_map(char::to_lowercase) {
        let mapped: &str = match c {
            'a'..='z' | '0'..='9' => {
                out.push(c);
                space = false;
                continue;
            }
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
            'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
            'ď' | 'đ' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
            'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
            'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
            'ñ' | 'ń' | 'ņ' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
            'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
            'ý' | 'ÿ' => "y",
            'ś' | 'š' | 'ş' => "s",
            'ź' | 'ż' | 'ž' => "z",
            'ł' => "l",
            'ŕ' | 'ř' => "r",
            'ţ' | 'ť' => "t",
            'œ' => "oe",
            'æ' => "ae",
            'ß' => "ss",
            _ => {
                if !space {
                    out.push(' ');
                    space = true;
                }
                continue;
            }
        };
        out.push_str(mapped);
        space = false;
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

const COLUMNS: &str = "siret, name, address, postcode, commune, active, head_office";

fn from_row(row: &sqlx::any::AnyRow) -> Result<Option<Establishment>, sqlx::Error> {
    let siret: String = row.try_get("siret")?;
    // Every stored SIRET was checked on the way in; a row that is not is skipped, not fatal.
    let Ok(siret) = Siret::parse(&siret) else {
        tracing::warn!(siret = %siret, "invalid SIRET in the register, ignored");
        return Ok(None);
    };
    Ok(Some(Establishment {
        siret,
        name: row.try_get("name")?,
        address: row.try_get("address")?,
        postcode: row.try_get("postcode")?,
        commune: row.try_get("commune")?,
        active: row.try_get::<i64, _>("active")? != 0,
        head_office: row.try_get::<i64, _>("head_office")? != 0,
    }))
}

fn upsert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO establishments (siret, siren, name, name_search, address, postcode, commune, active, head_office, updated_at) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        let b = r * 10;
        sql.push('(');
        for c in 1..=10 {
            if c > 1 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", b + c));
        }
        sql.push(')');
    }
    sql.push_str(
        " ON CONFLICT (siret) DO UPDATE SET siren = excluded.siren, name = excluded.name, \
         name_search = excluded.name_search, address = excluded.address, \
         postcode = excluded.postcode, commune = excluded.commune, active = excluded.active, \
         head_office = excluded.head_office, updated_at = excluded.updated_at",
    );
    sql
}

/// Inserts or updates `batch` in one transaction (a re-import updates in place).
pub async fn upsert(db: &Db, batch: &[Establishment], now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    for chunk in batch.chunks(ROWS_PER_STATEMENT) {
        let sql = upsert_sql(chunk.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            query = query
                .bind(e.siret.as_str().to_owned())
                .bind(e.siren().as_str().to_owned())
                .bind(e.name.clone())
                .bind(fold(&e.name))
                .bind(e.address.clone())
                .bind(e.postcode.clone())
                .bind(e.commune.clone())
                .bind(i64::from(e.active))
                .bind(i64::from(e.head_office))
                .bind(now);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Gives every establishment of `siren` the raison sociale `name` (the unités légales pass of
/// an import). Returns how many rows changed.
pub async fn rename_company(
    tx: &mut sqlx::AnyConnection,
    siren: &Siren,
    name: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE establishments SET name = $1, name_search = $2, updated_at = $3 WHERE siren = $4 AND name <> $1",
    )
    .bind(name.to_owned())
    .bind(fold(name))
    .bind(now)
    .bind(siren.as_str().to_owned())
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected())
}

/// The establishment `siret`, if the register has it.
pub async fn by_siret(db: &Db, siret: &Siret) -> Result<Option<Establishment>, sqlx::Error> {
    by_siret_in(&mut *db.pool.acquire().await?, siret).await
}

/// [`by_siret`] inside a transaction (an action's rules read the register there).
pub async fn by_siret_in(
    conn: &mut sqlx::AnyConnection,
    siret: &Siret,
) -> Result<Option<Establishment>, sqlx::Error> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM establishments WHERE siret = $1"
    )))
    .bind(siret.as_str().to_owned())
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => from_row(&row),
        None => Ok(None),
    }
}

/// How many establishments the register holds.
pub async fn count(db: &Db) -> Result<u64, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM establishments")
        .fetch_one(&db.pool)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Whether the register holds nothing (a fresh install that imported no stock).
pub async fn is_empty(db: &Db) -> Result<bool, sqlx::Error> {
    let row = sqlx::query("SELECT siret FROM establishments LIMIT 1")
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.is_none())
}

/// Page `page` (from 1) of the establishments matching `query`, best first, and their total.
pub async fn search(db: &Db, query: &Query, page: u32) -> Result<SearchPage, sqlx::Error> {
    let page = page.max(1);
    let offset = i64::from(page - 1) * i64::from(PAGE_SIZE);
    // Name: `$1` the prefix, `$2` its upper bound (`~` sorts after every folded character).
    let (filter, bind, upper) = match query {
        Query::Siret(siret) => ("siret = $1", siret.as_str().to_owned(), String::new()),
        Query::Siren(siren) => ("siren = $1", siren.as_str().to_owned(), String::new()),
        Query::Name(prefix) => (
            "name_search >= $1 AND name_search < $2",
            prefix.clone(),
            format!("{prefix}~"),
        ),
    };
    let is_name = matches!(query, Query::Name(_));
    let count_sql = format!("SELECT COUNT(*) FROM establishments WHERE {filter}");
    let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql)).bind(bind.clone());
    if is_name {
        count = count.bind(upper.clone());
    }
    let total = u64::try_from(count.fetch_one(&db.pool).await?).unwrap_or(0);
    if total == 0 || offset >= i64::try_from(total).unwrap_or(i64::MAX) {
        return Ok(SearchPage {
            results: Vec::new(),
            total,
            page,
            per_page: PAGE_SIZE,
        });
    }
    // `$3` is the whole folded query: an exact name ranks first. A broad name prefix (more
    // than RANKED_MAX matches) is read in index order instead: sorting tens of thousands of
    // rows to rank them costs ~100 ms, and the exact name, if any, comes first anyway (it is
    // the smallest string of the range).
    let broad = is_name && total > RANKED_MAX;
    let order = if broad {
        "name_search, siret"
    } else if is_name {
        "CASE WHEN name_search = $3 THEN 0 ELSE 1 END, active DESC, head_office DESC, name_search, siret"
    } else {
        "active DESC, head_office DESC, name_search, siret"
    };
    let (limit, off) = match (is_name, broad) {
        (true, true) => ("$3", "$4"),
        (true, false) => ("$4", "$5"),
        _ => ("$2", "$3"),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM establishments WHERE {filter} ORDER BY {order} LIMIT {limit} OFFSET {off}"
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(bind.clone());
    if is_name {
        q = q.bind(upper);
        if !broad {
            q = q.bind(bind);
        }
    }
    let rows = q
        .bind(i64::from(PAGE_SIZE))
        .bind(offset)
        .fetch_all(&db.pool)
        .await?;
    let mut results = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(e) = from_row(row)? {
            results.push(e);
        }
    }
    Ok(SearchPage {
        results,
        total,
        page,
        per_page: PAGE_SIZE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fold_to_lowercase_ascii_words() {
        assert_eq!(
            fold("  Agence NATIONALE pour la Formation Professionnelle des Adultes "),
            "agence nationale pour la formation professionnelle des adultes"
        );
        assert_eq!(fold("Éducation & Œuvres d'ÉTÉ"), "education oeuvres d ete");
        assert_eq!(fold("L'Atelier—Bâtiment (Sarl)"), "l atelier batiment sarl");
        assert_eq!(fold("---"), "");
    }

    #[test]
    fn a_query_is_a_siret_a_siren_or_a_name_prefix() {
        assert_eq!(
            Query::parse("130 025 265 00013"),
            Ok(Query::Siret(Siret::parse("13002526500013").unwrap()))
        );
        assert_eq!(
            Query::parse(" 130025265 "),
            Ok(Query::Siren(Siren::parse("130025265").unwrap()))
        );
        assert_eq!(Query::parse("Écoles"), Ok(Query::Name("ecoles".into())));
        assert_eq!(
            Query::parse("130025266"),
            Err(QueryError::Number(SirenError::BadChecksum))
        );
        assert_eq!(Query::parse("é"), Err(QueryError::TooShort));
        assert_eq!(Query::parse("   "), Err(QueryError::Empty));
    }

    #[test]
    fn the_summary_uses_the_ministry_wording() {
        let page = SearchPage {
            results: Vec::new(),
            total: 0,
            page: 1,
            per_page: PAGE_SIZE,
        };
        assert_eq!(page.summary(), "0 résultats affichés sur 0");
        assert_eq!(page.pages(), 1);
    }
}
