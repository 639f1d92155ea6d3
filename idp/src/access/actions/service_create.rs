//! Create a service, or change its label, description and home page.

use crate::{
    access::{
        refusal::AccessRefusal,
        rules,
        services::{self, Service},
    },
    action::{self, Event},
    store::Db,
};

/// What an operator gives for a service; `None` keeps what an existing service has.
#[derive(Clone, Debug)]
pub struct ServiceInput {
    /// Code (`ceres`).
    pub code: String,
    /// Name shown to people.
    pub label: String,
    /// One line on what it is for.
    pub description: Option<String>,
    /// Where people go back to.
    pub home_url: Option<String>,
    /// Every login to the service's clients needs a second factor.
    pub require_mfa: Option<bool>,
}

/// Saves the service at `now` with its `service.saved` event, in one transaction. An update
/// changes what it is given: the seeded CERES keeps its description when an operator only sets
/// its home page.
pub async fn save_service(
    db: &Db,
    input: ServiceInput,
    now: i64,
    actor: &str,
) -> Result<Service, AccessRefusal> {
    rules::code_is_well_formed(&input.code)?;
    rules::label_is_given(&input.label)?;
    rules::home_url_is_valid(input.home_url.as_deref())?;
    action::in_one_transaction(db, now, async |tx| {
        let existing = services::by_code_in(tx, &input.code).await?;
        let service = Service {
            label: input.label.trim().to_owned(),
            description: input
                .description
                .or_else(|| existing.as_ref().map(|s| s.description.clone()))
                .unwrap_or_default(),
            home_url: input.home_url.or_else(|| existing.and_then(|s| s.home_url)),
            code: input.code,
        };
        services::upsert_in(tx, &service, now).await?;
        if let Some(required) = input.require_mfa {
            services::set_requires_mfa_in(tx, &service.code, required).await?;
        }
        let event = Event::new(actor, "service.saved", &service.code);
        Ok((service, event))
    })
    .await
}
