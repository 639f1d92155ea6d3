//! The establishment picker of the pages: the sign-up's organisation step, the invitation's
//! organisation step and the request for access search the register the same way (raison
//! sociale, SIREN or SIRET, results as radio buttons, closed ones shown and not selectable) and
//! accept a picked establishment by the same rule. Its markup is `establishment_results.html`.

use super::{Query, Siret, insee, register};
use crate::{AppState, error::PageError};

/// One result as the pages list it.
pub struct ResultRow {
    /// SIRET, the radio's value.
    pub siret: String,
    /// « 130 025 265 00013 ».
    pub siret_display: String,
    /// Name in the register.
    pub name: String,
    /// « 74000 ANNECY ».
    pub location: String,
    /// Open: a closed one is shown, not selectable.
    pub active: bool,
    /// The company's head office.
    pub head_office: bool,
    /// The one chosen.
    pub checked: bool,
}

/// A search of the register as a page shows it.
#[derive(Default)]
pub struct Picker {
    /// What was typed.
    pub query: String,
    /// Why the query could not be read.
    pub search_error: Option<String>,
    /// A search ran (its results may be empty).
    pub searched: bool,
    /// « n résultats affichés sur N ».
    pub summary: String,
    /// This page of results.
    pub results: Vec<ResultRow>,
    /// « Page 2 sur 5 », empty on a single page.
    pub page_label: String,
    /// This page's number.
    pub current_page: u32,
    /// The previous page's link.
    pub previous_href: Option<String>,
    /// The next page's link.
    pub next_href: Option<String>,
}

/// Whether the pages search the register: it holds establishments, or the INSEE API is there.
pub async fn register_available(state: &AppState) -> Result<bool, PageError> {
    Ok(state.insee.is_some() || !register::is_empty(&state.db).await?)
}

/// « 130 025 265 00013 ».
pub fn spaced(siret: &Siret) -> String {
    let s = siret.as_str();
    format!("{} {} {} {}", &s[..3], &s[3..6], &s[6..9], &s[9..])
}

impl Picker {
    /// Runs the search of `query` at `page` (or, with no query, shows `chosen` alone);
    /// `href(query, page)` links the other pages of results.
    pub async fn search(
        state: &AppState,
        query: &str,
        page: &str,
        chosen: Option<&Siret>,
        href: impl Fn(&str, u32) -> String,
    ) -> Result<Self, PageError> {
        let mut picker = Self {
            query: query.to_owned(),
            current_page: 1,
            ..Self::default()
        };
        let number = page.trim().parse::<u32>().unwrap_or(1).max(1);
        let (db, api) = (&state.db, state.insee.as_ref());
        let found = if query.trim().is_empty() {
            match chosen {
                Some(siret) => Some(insee::search(db, api, &Query::Siret(siret.clone()), 1).await?),
                None => None,
            }
        } else {
            match Query::parse(query) {
                Ok(parsed) => Some(insee::search(db, api, &parsed, number).await?),
                Err(e) => {
                    picker.search_error = Some(e.to_string());
                    None
                }
            }
        };
        let Some(found) = found else {
            return Ok(picker);
        };
        picker.searched = true;
        picker.current_page = found.page;
        picker.summary = found.summary();
        if found.pages() > 1 {
            let pages = found.pages();
            picker.page_label = format!("Page {} sur {pages}", found.page.min(pages));
            picker.previous_href = (found.page > 1).then(|| href(query, found.page - 1));
            picker.next_href = (found.page < pages).then(|| href(query, found.page + 1));
        }
        // A search that found one open establishment has it chosen already: the person
        // only confirms (guide `002` §3.2).
        let only = match found.results.as_slice() {
            [one] if found.pages() == 1 && one.active => Some(&one.siret),
            _ => None,
        };
        picker.results = found
            .results
            .iter()
            .map(|e| ResultRow {
                siret: e.siret.as_str().to_owned(),
                siret_display: spaced(&e.siret),
                name: e.name.clone(),
                location: e.location(),
                active: e.active,
                head_office: e.head_office,
                checked: e.active && (chosen == Some(&e.siret) || only == Some(&e.siret)),
            })
            .collect();
        Ok(picker)
    }
}

/// A picked establishment is one the register (or the API) knows, and open: its name; else the
/// message to show.
pub async fn open_establishment(
    state: &AppState,
    siret: &Siret,
    unknown: &str,
) -> Result<Result<register::Establishment, String>, PageError> {
    Ok(
        match insee::lookup(&state.db, state.insee.as_ref(), siret).await? {
            None => Err(unknown.to_owned()),
            Some(e) if !e.active => Err(
                "Cet établissement est fermé : choisissez un établissement en activité.".to_owned(),
            ),
            Some(e) => Ok(e),
        },
    )
}

/// The most characters of a typed raison sociale.
pub const MAX_LABEL_CHARS: usize = 200;

/// A raison sociale typed (an empty register): given, at most [`MAX_LABEL_CHARS`] characters,
/// no control character.
pub fn typed_label(input: &str) -> Result<String, String> {
    let label = input.trim();
    if label.is_empty() {
        return Err("Veuillez saisir la raison sociale de l'entreprise.".to_owned());
    }
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(format!(
            "La raison sociale ne peut dépasser {MAX_LABEL_CHARS} caractères."
        ));
    }
    Ok(label.to_owned())
}
