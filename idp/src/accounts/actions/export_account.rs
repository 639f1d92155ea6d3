//! Read a person's file for support (`idp users show`) or hand it over for a GDPR access
//! request (`idp users export`, `GET /api/v1/admin/users/{id}/export`): the file is read in one
//! transaction with the audit event that records who looked at it and why (`account.viewed`,
//! `account.exported`), so no one reads a file without leaving a trace.

use super::{AccountRefusal, UserId};
use crate::{
    accounts::dossier::{self, Dossier},
    action,
    admin::AdminCall,
    store::Db,
};

/// What the operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The summary support reads (no audit events).
    Show,
    /// Everything, for the person (with the audit events about or by them).
    Export,
}

/// The file of `user`.
pub async fn export_account(
    db: &Db,
    now: i64,
    by: &AdminCall,
    user: &UserId,
    purpose: Purpose,
) -> Result<Dossier, AccountRefusal> {
    action::in_one_transaction(db, now, async |tx| {
        let file = dossier::read_in(tx, user, purpose == Purpose::Export)
            .await?
            .ok_or(AccountRefusal::NoSuchAccount)?;
        let name = match purpose {
            Purpose::Show => "account.viewed",
            Purpose::Export => "account.exported",
        };
        Ok((file, by.event(name, user.as_str(), serde_json::json!({}))))
    })
    .await
}
