//! The pages of CERES (démonstration): askama templates in `templates/`, DSFR styled.

pub mod agent;
pub mod cgu;
pub mod error;
pub mod home;
pub mod no_access;

use axum::{Form, extract::rejection::FormRejection};
use serde::de::DeserializeOwned;

use crate::{PageError, oidc::Person};

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        PageError::Internal(format!("database: {e}"))
    }
}

/// The header's view of the logged-in person: their name (the button opening « le panneau des
/// fonctionnalités », guide 002 §6.1), the red pastille, and the panel's links and logout form.
pub struct HeaderUser {
    /// "Prénom Nom".
    pub name: String,
    /// CSRF token of the session.
    pub csrf: String,
    /// The provider's « Gérer mon compte ».
    pub account_url: String,
    /// The provider's « Mes habilitations » (« Gérer mes habilitations »).
    pub habilitations_url: String,
    /// The provider's « Gérer les accès de mon entreprise »: for a Responsable des accès only.
    pub manage_url: Option<String>,
    /// The provider's « Demandes d'accès »: for a Responsable des accès only.
    pub requests_url: Option<String>,
    /// Access requests waiting for them (the pastille); 0 when the provider could not say.
    pub pending: u32,
}

impl HeaderUser {
    /// For `person`: the provider's notifications when they came, else the claims and the
    /// configured links, without a pastille.
    pub fn of(person: &Person, config: &crate::Config) -> Self {
        let (account_url, requests_url, pending) = match &person.notifications {
            Some(n) => (
                n.account_url.clone(),
                n.requests_url.clone().filter(|_| n.access_manager),
                n.pending_access_requests,
            ),
            None => (
                config.provider_url("/compte"),
                (!person.profile.access_manager_of.is_empty()).then(|| {
                    config.provider_url(&format!("/acces/{}/gestion/demandes", config.service))
                }),
                0,
            ),
        };
        // Guide 002 §6.4: the panel also holds « Gérer mes habilitations » and, for a
        // Responsable des accès, « Gérer les accès de mon entreprise ».
        let manage_url = requests_url
            .as_ref()
            .map(|_| config.provider_url(&format!("/acces/{}/gestion", config.service)));
        Self {
            name: person.profile.display_name(),
            csrf: person.session.csrf.clone(),
            account_url,
            habilitations_url: config.provider_url("/compte/habilitations"),
            manage_url,
            requests_url,
            pending,
        }
    }

    /// « (2 demandes d'accès en attente) », read after the name by screen readers.
    pub fn pending_label(&self) -> String {
        let s = if self.pending > 1 { "s" } else { "" };
        format!("{} demande{s} d'accès en attente", self.pending)
    }
}

/// A form field's error, shown under the field and tied to it (`aria-describedby`).
pub struct FieldError {
    /// The field's `name`.
    pub field: &'static str,
    /// The French message.
    pub message: String,
}

impl FieldError {
    /// Whether the error is about `field`.
    pub fn is(&self, field: &str) -> bool {
        self.field == field
    }
}

/// The `end_date` claim (`YYYY-MM-DD`, the last day of access) as guide 002 writes it: a month's
/// last day is the month, `MM/AAAA`; another day is `JJ/MM/AAAA`; no date → "sans date de fin".
pub fn end_date(iso: Option<&str>) -> String {
    match iso.map(str::parse::<jiff::civil::Date>) {
        None => "sans date de fin".into(),
        Some(Ok(d)) if d == d.last_of_month() => d.strftime("%m/%Y").to_string(),
        Some(Ok(d)) => d.strftime("%d/%m/%Y").to_string(),
        Some(Err(_)) => iso.unwrap_or_default().to_owned(),
    }
}

/// What a CERES role allows, in French, for the dashboard.
pub fn role_actions(role: &str) -> &'static [&'static str] {
    match role {
        "centre_agree" => &[
            "organiser des sessions d'examen du titre professionnel et les déclarer ;",
            "inscrire les candidats aux sessions et suivre leurs dossiers ;",
            "composer les jurys et convoquer les candidats ;",
            "saisir les résultats des épreuves et éditer les procès-verbaux ;",
            "consulter les informations de votre agrément.",
        ],
        "gestionnaire_centres" => &[
            "gérer les centres de votre périmètre et leurs sites ;",
            "instruire et suivre les agréments des centres ;",
            "consulter les sessions d'examen organisées par ces centres ;",
            "gérer les comptes CENTRES rattachés à votre périmètre.",
        ],
        _ => &["consulter les informations de votre établissement dans CERES."],
    }
}

/// A form body, its failures turned into the French error page.
pub fn form<T: DeserializeOwned>(form: Result<Form<T>, FormRejection>) -> Result<T, PageError> {
    form.map(|Form(f)| f)
        .map_err(|_| PageError::BadRequest("Le formulaire envoyé est incomplet ou invalide."))
}

/// The French message of an expired or forged form.
pub const CSRF_FAILED: &str = "Le formulaire a expiré. Veuillez recharger la page et recommencer.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_dates_are_french() {
        assert_eq!(end_date(Some("2099-12-31")), "12/2099");
        assert_eq!(end_date(Some("2099-12-30")), "30/12/2099");
        assert_eq!(end_date(None), "sans date de fin");
    }

    #[test]
    fn each_ceres_role_says_what_it_allows() {
        assert!(
            role_actions("centre_agree")
                .iter()
                .any(|a| a.contains("résultats"))
        );
        assert!(
            role_actions("gestionnaire_centres")
                .iter()
                .any(|a| a.contains("agréments"))
        );
    }
}
