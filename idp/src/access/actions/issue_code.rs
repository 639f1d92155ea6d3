//! An agent (`POST /agent/codes`), a service's back office (`POST /api/v1/codes`) or an operator
//! issues an activation code for an establishment and a service: the letter the post brings.

use crate::{
    access::{
        codes::{self, IssuedCode},
        refusal::AccessRefusal,
        rules,
    },
    action::{self, Event},
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
    let CodeIssue {
        by,
        service_code,
        siret,
        ttl_seconds,
    } = *input;
    action::in_one_transaction(db, now, async |tx| {
        let establishment = rules::code_may_be_issued_for(tx, siret).await?;
        let code = codes::issue_in(tx, key, service_code, siret, by, now, ttl_seconds).await?;
        let details = serde_json::json!({"service": service_code, "code_id": code.id});
        let event = Event::new(by, "activation_code.issued", siret.as_str()).with(details);
        let issued = Issued {
            code,
            establishment,
        };
        Ok((issued, event))
    })
    .await
}
