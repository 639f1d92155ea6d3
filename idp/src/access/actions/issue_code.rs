//! An agent (`POST /agent/codes`), a service's back office (`POST /api/v1/codes`) or an operator
//! issues an activation code for an establishment and a service: the letter the post brings.

use crate::{
    access::{
        codes::{self, IssuedCode},
        refusal::AccessRefusal,
        rules,
    },
    audit,
    clock::Clock,
    organizations::{Establishment, Siret},
    store::Db,
};

/// What to issue.
#[derive(Debug)]
pub struct CodeIssue<'a> {
    /// Who issues it: an agent's user id, a client id, `cli`.
    pub by: &'a str,
    /// The service.
    pub service_code: &'a str,
    /// The establishment.
    pub siret: &'a Siret,
    /// How long the code stays valid (seconds).
    pub ttl_seconds: i64,
}

/// A code just issued, with the register's entry its letter is addressed to.
#[derive(Debug)]
pub struct Issued {
    /// The code (the only time it exists in clear).
    pub code: IssuedCode,
    /// The establishment, as the register has it.
    pub establishment: Establishment,
}

/// Issues the code: in one transaction, the rule that codes go only to open establishments of
/// the register, the previous unused code of the pair revoked, the new one stored, the
/// `activation_code.issued` event. `key` is the code-hashing key (`codes::HASH_KEY_LABEL`).
pub async fn issue_code(
    db: &Db,
    clock: &Clock,
    key: &[u8; 32],
    input: &CodeIssue<'_>,
) -> Result<Issued, AccessRefusal> {
    let now = clock.now();
    let mut tx = db.begin().await?;
    let establishment = rules::code_may_be_issued_for(&mut tx, input.siret).await?;
    let code = codes::issue_in(
        &mut tx,
        key,
        input.service_code,
        input.siret,
        input.by,
        now,
        input.ttl_seconds,
    )
    .await?;
    audit::record(
        &mut tx,
        now,
        input.by,
        "activation_code.issued",
        input.siret.as_str(),
        serde_json::json!({"service": input.service_code, "code_id": code.id}),
    )
    .await?;
    tx.commit().await?;
    Ok(Issued {
        code,
        establishment,
    })
}
