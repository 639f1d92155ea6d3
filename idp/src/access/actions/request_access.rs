//! « Demander l'accès » (guide `002` §4): a person asks the Responsables des accès of an
//! establishment for access to a service. The e-mails to those managers go after the commit
//! (the caller sends them), so no e-mail announces a request that was rolled back.

use std::time::Duration;

use crate::{
    access::{
        refusal::{AccessRefusal, NewAccess},
        requests::{self, AccessRequest},
        rules,
        services::Service,
    },
    accounts::UserId,
    action::Event,
    clock::Clock,
    organizations::Siret,
    store::{Db, Ephemeral},
};

/// Requests a person may create per [`CREATE_WINDOW`] (all services and establishments).
pub const CREATES_PER_USER: u64 = 10;
/// The window of [`CREATES_PER_USER`].
pub const CREATE_WINDOW: Duration = Duration::from_secs(3600);

/// What came of the request.
#[derive(Debug)]
pub enum Requested {
    /// Stored: the caller e-mails the establishment's Responsables des accès.
    Created(Box<AccessRequest>),
    /// The person already has one pending for this establishment (asked twice, or a moment
    /// ago on another node): its status page, no second e-mail.
    AlreadyPending,
    /// The establishment has no Responsable des accès for the service: nothing is stored, the
    /// person is told to ask for an activation code (`access_request.no_manager` recorded).
    NoManager,
}

/// Checks the message, that the establishment accepts new access, that no request is pending
/// and that someone can answer; then, within the person's limit, stores the request with its
/// `access_request.created` event in one transaction.
pub async fn request_access(
    db: &Db,
    ephemeral: &Ephemeral,
    clock: &Clock,
    by: &UserId,
    service: &Service,
    siret: &Siret,
    message: &str,
) -> Result<Requested, AccessRefusal> {
    let message = rules::request_message(message)?;
    let now = clock.now();
    let mut tx = db.begin().await?;
    rules::establishment_accepts_new_access(&mut tx, siret, NewAccess::Access).await?;
    if requests::pending_for_in(&mut tx, by, &service.code, siret.as_str())
        .await?
        .is_some()
    {
        return Ok(Requested::AlreadyPending);
    }
    let details = serde_json::json!({"service": service.code});
    if !rules::has_manager(&mut tx, service, siret).await? {
        Event::new(by.as_str(), "access_request.no_manager", siret.as_str())
            .with(details)
            .record_in(&mut tx, now)
            .await?;
        tx.commit().await?;
        return Ok(Requested::NoManager);
    }
    let bucket = "access-request-user";
    super::within_limit(ephemeral, bucket, by, CREATES_PER_USER, CREATE_WINDOW).await?;
    let Some(request) =
        requests::create_in(&mut tx, by, &service.code, siret, message, now).await?
    else {
        return Ok(Requested::AlreadyPending);
    };
    let mut details = details;
    details["request_id"] = request.id.clone().into();
    Event::new(by.as_str(), "access_request.created", siret.as_str())
        .with(details)
        .record_in(&mut tx, now)
        .await?;
    tx.commit().await?;
    Ok(Requested::Created(Box::new(request)))
}
