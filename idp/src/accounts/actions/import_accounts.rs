//! Import the accounts of a previous system (`idp users import`): every account created with
//! its e-mail (verified: the previous system proved it), its hash as it was, and its identity,
//! each with an `account.imported` event, then `accounts.imported` with the count, all in one
//! transaction. An address already taken makes the whole import fail, with every such line
//! reported: nothing is half imported.

use super::{AccountRefusal, store};
use crate::{
    accounts::import::{BadRow, Legacy},
    admin::AdminCall,
    store::Db,
};

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportRefusal {
    /// Rows whose address has an account already.
    #[error("{} ligne(s) refusée(s)", .0.len())]
    Rows(Vec<BadRow>),
    /// Storage failed.
    #[error(transparent)]
    Refused(#[from] AccountRefusal),
}

impl From<sqlx::Error> for ImportRefusal {
    fn from(e: sqlx::Error) -> Self {
        Self::Refused(e.into())
    }
}

/// Creates `accounts`; `progress` is called every 10,000 accounts written. How many.
pub async fn import_accounts(
    db: &Db,
    now: i64,
    by: &AdminCall,
    accounts: &[Legacy],
    mut progress: impl FnMut(usize),
) -> Result<usize, ImportRefusal> {
    let mut tx = db.begin().await?;
    let mut taken = Vec::new();
    for (n, legacy) in accounts.iter().enumerate() {
        let hash = legacy.password_hash.as_deref();
        match store::insert_user_in(&mut tx, &legacy.email, hash, &legacy.profile, now).await? {
            Some(id) => {
                let details = serde_json::json!({ "scheme": legacy.scheme, "line": legacy.line });
                by.event("account.imported", id.as_str(), details)
                    .record_in(&mut tx, now)
                    .await?;
            }
            None => taken.push(BadRow {
                line: legacy.line,
                reason: "un compte existe déjà pour cette adresse".into(),
            }),
        }
        if (n + 1).is_multiple_of(10_000) {
            progress(n + 1);
        }
    }
    if !taken.is_empty() {
        // Dropping the transaction rolls every row back.
        return Err(ImportRefusal::Rows(taken));
    }
    let details = serde_json::json!({ "accounts": accounts.len() });
    by.event("accounts.imported", "users", details)
        .record_in(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(accounts.len())
}
