//! A person redeems an activation code and becomes Responsable des accès of the code's
//! establishment for the service (guide `002` §3.2; the page `POST /acces/{service}/activation`
//! and the JSON `POST /api/v1/activation` both call it).

use crate::{
    access::{
        ActivationCode, codes,
        habilitations::GrantedHow,
        managers,
        refusal::{AccessRefusal, NewAccess},
        rules,
    },
    accounts::UserId,
    action::{Event, Refusal},
    audit,
    clock::Clock,
    organizations::{Siret, register},
    store::Db,
};

/// What the person typed, and where.
#[derive(Debug)]
pub struct Redemption<'a> {
    /// Who redeems it.
    pub by: &'a UserId,
    /// The service the code is for.
    pub service_code: &'a str,
    /// The SIRET typed with the code (the page asks for it; the JSON API may not).
    pub siret: Option<&'a Siret>,
    /// The code.
    pub code: &'a ActivationCode,
    /// The relying party that called the JSON API for the person, if any (recorded).
    pub via: Option<&'a str>,
}

/// What a redemption gave.
#[derive(Clone, Debug)]
pub struct Redeemed {
    /// The code's id.
    pub code_id: String,
    /// The establishment the person now manages.
    pub siret: Siret,
    /// Its name in the register, if the register holds it.
    pub establishment: Option<String>,
}

/// Redeems the code: in one transaction, the rule that the establishment accepts new access,
/// the code taken (exactly one of concurrent redemptions wins, on any node), the Responsable
/// des accès right, the `activation_code.redeemed` event. A refusal is recorded on its own as
/// `activation_code.refused` with the refusal's code as `reason`, whichever surface called.
/// `key` is the code-hashing key (`codes::HASH_KEY_LABEL`).
pub async fn redeem_code(
    db: &Db,
    clock: &Clock,
    key: &[u8; 32],
    input: &Redemption<'_>,
) -> Result<Redeemed, AccessRefusal> {
    let now = clock.now();
    // Not `action::in_one_transaction`: a refusal is recorded on its own, after the rollback.
    let mut tx = db.begin().await?;
    let refused = match redeem_in(&mut tx, now, key, input).await {
        Ok(done) => {
            tx.commit().await?;
            tracing::info!(access.service = %input.service_code, "activation code redeemed");
            return Ok(done);
        }
        Err(refused) => refused,
    };
    tx.rollback().await?;
    if !matches!(refused, AccessRefusal::Storage(_)) {
        audit::record_alone(
            db,
            now,
            input.by.as_str(),
            "activation_code.refused",
            input.siret.map_or("", Siret::as_str),
            details(input, "reason", refused.code().into()),
        )
        .await?;
    }
    Err(refused)
}

/// The event's details: the service, one fact, and the relying party that called, if one did.
fn details(input: &Redemption<'_>, name: &str, value: serde_json::Value) -> serde_json::Value {
    let mut details = serde_json::json!({ "service": input.service_code });
    details[name] = value;
    if let Some(via) = input.via {
        details["via"] = via.into();
    }
    details
}

async fn redeem_in(
    tx: &mut sqlx::AnyConnection,
    now: i64,
    key: &[u8; 32],
    input: &Redemption<'_>,
) -> Result<Redeemed, AccessRefusal> {
    let found = codes::find_in(tx, key, input.code, input.service_code, now).await?;
    // The establishment typed, else the code's: a closed one is refused before anything else.
    let siret = match (input.siret, &found) {
        (Some(typed), _) => typed.clone(),
        (None, Some(code)) => Siret::parse(&code.siret).map_err(|_| AccessRefusal::UnknownCode)?,
        (None, None) => return Err(AccessRefusal::UnknownCode),
    };
    rules::establishment_accepts_new_access(tx, &siret, NewAccess::Access).await?;
    let code = found.ok_or(AccessRefusal::UnknownCode)?;
    if code.siret != siret.as_str() {
        return Err(AccessRefusal::WrongSiret);
    }
    match code.status {
        codes::CodeStatus::Live => {}
        codes::CodeStatus::Expired => return Err(AccessRefusal::ExpiredCode),
        codes::CodeStatus::Revoked => return Err(AccessRefusal::RevokedCode),
        codes::CodeStatus::Redeemed(_) => return Err(AccessRefusal::UsedCode),
    }
    if !codes::take_in(tx, &code.id, input.by, now).await? {
        return Err(AccessRefusal::UsedCode);
    }
    managers::insert_in(
        tx,
        input.by,
        input.service_code,
        &siret,
        None,
        GrantedHow::ActivationCode,
        now,
    )
    .await?;
    let establishment = register::by_siret_in(tx, &siret).await?.map(|e| e.name);
    Event::new(
        input.by.as_str(),
        "activation_code.redeemed",
        siret.as_str(),
    )
    .with(details(input, "code_id", code.id.clone().into()))
    .record_in(tx, now)
    .await?;
    Ok(Redeemed {
        code_id: code.id,
        siret,
        establishment,
    })
}
