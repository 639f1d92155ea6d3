//! Accounts of a previous system (« Mes démarches »), read from its export: guide 002 promises
//! that their holders keep their e-mail and password. Each row is checked here before anything
//! is written ([`read`]); [`super::actions::import_accounts`] writes them all or none. The
//! password hashes are kept as they are (bcrypt, PBKDF2-SHA256, argon2, [`HashScheme`]) and
//! become argon2id at each person's first login.
//!
//! CSV, with a header line, or JSON lines, with these fields: `email` (required),
//! `password_hash` (empty: the person sets a password through « Mot de passe oublié »),
//! `given_name`, `family_name`, `gender` (`female`, `male` or empty), `job`, `siret`,
//! `organization_label`.

use std::io::BufRead;

use serde::Deserialize;

use super::{
    Email,
    password::{HashScheme, is_well_formed},
    store::NewUser,
};
use crate::organizations::Siret;

/// Longest name, job or organisation label kept.
const MAX_FIELD_CHARS: usize = 200;

/// The format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated, header line first.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// One row as the export has it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Raw {
    email: String,
    password_hash: String,
    given_name: String,
    family_name: String,
    gender: String,
    job: String,
    siret: String,
    organization_label: String,
}

/// One account to create.
#[derive(Debug, Clone)]
pub struct Legacy {
    /// Its line in the file (1 is the first; the CSV header is line 1).
    pub line: usize,
    /// Its address.
    pub email: Email,
    /// Its hash as the previous system kept it, if any.
    pub password_hash: Option<String>,
    /// Its scheme's name (`bcrypt`…), for the audit trail.
    pub scheme: Option<&'static str>,
    /// Its identity.
    pub profile: NewUser,
}

/// A row that cannot be imported: its line and why, in French.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// The line.
    pub line: usize,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ligne {} : {}", self.line, self.reason)
    }
}

fn text(value: &str, what: &str) -> Result<String, String> {
    let t = value.trim();
    if t.chars().count() > MAX_FIELD_CHARS || t.chars().any(char::is_control) {
        return Err(format!(
            "{what} : {MAX_FIELD_CHARS} caractères au plus, sans caractère de contrôle"
        ));
    }
    Ok(t.to_owned())
}

fn optional(value: &str, what: &str) -> Result<Option<String>, String> {
    text(value, what).map(|t| (!t.is_empty()).then_some(t))
}

fn check(line: usize, raw: Raw) -> Result<Legacy, String> {
    let email = Email::parse(&raw.email).map_err(|e| format!("adresse « {} » : {e}", raw.email))?;
    let hash = raw.password_hash.trim();
    let (password_hash, scheme) = if hash.is_empty() {
        (None, None)
    } else {
        let scheme = HashScheme::of(hash)
            .filter(|_| is_well_formed(hash))
            .ok_or(
                "empreinte du mot de passe illisible : bcrypt, PBKDF2-SHA256 ou argon2 attendus",
            )?;
        (Some(hash.to_owned()), Some(scheme.name()))
    };
    let gender = match raw.gender.trim() {
        "" => None,
        g @ ("female" | "male") => Some(g.to_owned()),
        other => return Err(format!("civilité « {other} » : female, male ou vide")),
    };
    let siret = match raw.siret.trim() {
        "" => None,
        s => Some(
            Siret::parse(s)
                .map_err(|e| format!("SIRET « {s} » : {e}"))?
                .as_str()
                .to_owned(),
        ),
    };
    Ok(Legacy {
        line,
        email,
        password_hash,
        scheme,
        profile: NewUser {
            given_name: text(&raw.given_name, "prénom")?,
            family_name: text(&raw.family_name, "nom")?,
            gender,
            job: optional(&raw.job, "poste")?,
            siret,
            organization_label: optional(&raw.organization_label, "organisation")?,
            is_agent: false,
        },
    })
}

/// Every row of `input`, checked: the accounts to create, or every bad row (a row that does not
/// parse, an address twice in the file…) with its line. `progress` is called every 10,000 rows.
pub fn read(
    input: impl BufRead,
    format: Format,
    mut progress: impl FnMut(usize),
) -> Result<Vec<Legacy>, Vec<BadRow>> {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mut seen = std::collections::HashMap::new();
    let mut take = |line: usize, row: Result<Raw, String>| {
        match row.and_then(|raw| check(line, raw)) {
            Ok(legacy) => match seen.insert(legacy.email.as_str().to_owned(), line) {
                Some(first) => bad.push(BadRow {
                    line,
                    reason: format!("adresse déjà présente ligne {first}"),
                }),
                None => good.push(legacy),
            },
            Err(reason) => bad.push(BadRow { line, reason }),
        }
        if line.is_multiple_of(10_000) {
            progress(line);
        }
    };
    match format {
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
            for (i, record) in reader.deserialize::<Raw>().enumerate() {
                take(
                    i + 2,
                    record.map_err(|e| format!("ligne CSV illisible : {e}")),
                );
            }
        }
        Format::Jsonl => {
            for (i, line) in input.lines().enumerate() {
                let row = match line {
                    Ok(l) if l.trim().is_empty() => continue,
                    Ok(l) => serde_json::from_str::<Raw>(&l)
                        .map_err(|e| format!("objet JSON illisible : {e}")),
                    Err(e) => Err(format!("lecture : {e}")),
                };
                take(i + 1, row);
            }
        }
    }
    if bad.is_empty() { Ok(good) } else { Err(bad) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BCRYPT: &str = "$2b$04$EGdrhbKUv8Oc9vGiXX0HQOxSg445d458Muh7DAHskb6QbtCvdxcie";

    #[test]
    fn good_rows_become_accounts_and_bad_ones_are_all_reported_with_their_line() {
        let csv = format!(
            "email,password_hash,given_name,family_name,gender,siret\n\
             Anne@Exemple.fr,{BCRYPT},Anne,Durand,female,\n\
             pas-une-adresse,,B,C,,\n\
             anne@exemple.fr,,Anne,Bis,,\n\
             d@exemple.fr,$md5$x,D,E,,\n\
             e@exemple.fr,,E,F,autre,\n\
             f@exemple.fr,,F,G,,123\n"
        );
        let bad = read(csv.as_bytes(), Format::Csv, |_| {}).unwrap_err();
        let lines: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7], "{bad:?}");
        assert!(bad[1].reason.contains("ligne 2"), "{bad:?}");
        let good = read(
            format!(
                "email,password_hash,given_name,family_name\nanne@exemple.fr,{BCRYPT},Anne,Durand\n"
            )
            .as_bytes(),
            Format::Csv,
            |_| {},
        )
        .unwrap();
        assert_eq!(good[0].scheme, Some("bcrypt"));
        assert_eq!(good[0].email.as_str(), "anne@exemple.fr");
    }

    #[test]
    fn json_lines_take_the_same_fields() {
        let jsonl = format!(
            "{{\"email\":\"a@exemple.fr\",\"password_hash\":\"{BCRYPT}\",\"given_name\":\"A\"}}\n\n\
             {{\"email\":\"b@exemple.fr\"}}\n"
        );
        let good = read(jsonl.as_bytes(), Format::Jsonl, |_| {}).unwrap();
        assert_eq!(good.len(), 2);
        assert_eq!(good[1].password_hash, None);
        let bad = read("{\"email\":1}\n".as_bytes(), Format::Jsonl, |_| {}).unwrap_err();
        assert_eq!(bad[0].line, 1);
    }
}
