//! `GET /mentions-legales`, `/donnees-personnelles`, `/accessibilite`, `/plan-du-site`: the
//! legal pages of the footer. Their text is the ministry's; the durations the personal data
//! page gives are read from the configuration, so the page says what this deployment does.

use askama::Template;
use axum::{http::StatusCode, response::Response};

use crate::{AppState, error::PageError, web::page::Page};

#[derive(Template)]
#[template(path = "help_legal_notice.html")]
struct LegalNoticePage {
    issuer: String,
}

#[derive(Template)]
#[template(path = "help_personal_data.html")]
struct PersonalDataPage {
    session: String,
    reset_code: String,
    refresh_token: String,
    activation_code: String,
}

#[derive(Template)]
#[template(path = "help_accessibility.html")]
struct AccessibilityPage {
    issuer: String,
}

#[derive(Template)]
#[template(path = "help_site_map.html")]
struct SiteMapPage;

/// « Mentions légales »: editor, publication director, service owner, hosting.
pub async fn legal_notice(page: Page) -> Result<Response, PageError> {
    let issuer = page.config.issuer.clone();
    page.render(StatusCode::OK, |_| LegalNoticePage { issuer })
}

/// « Données personnelles »: what the provider keeps, why, and for how long.
pub async fn personal_data(page: Page) -> Result<Response, PageError> {
    let built = personal_data_page(&page);
    page.render(StatusCode::OK, |_| built)
}

fn personal_data_page(state: &AppState) -> PersonalDataPage {
    let config = &state.config;
    PersonalDataPage {
        session: french_duration(config.session.ttl_seconds),
        reset_code: french_duration(config.accounts.reset_code_ttl_seconds),
        refresh_token: french_duration(config.tokens.refresh_token_ttl_seconds),
        activation_code: french_duration(
            u64::from(config.access.activation_code_ttl_days) * 86_400,
        ),
    }
}

/// A lifetime of the configuration as a reader says it: « 8 heures », « 30 jours »; in the
/// largest unit that divides it exactly, so a test's odd setting is not rounded into a lie.
/// Days from two on: the reset e-mail says « 24 heures », and so does this page.
fn french_duration(seconds: u64) -> String {
    let (count, one, many) = if seconds >= 2 * 86_400 && seconds.is_multiple_of(86_400) {
        (seconds / 86_400, "jour", "jours")
    } else if seconds >= 3600 && seconds.is_multiple_of(3600) {
        (seconds / 3600, "heure", "heures")
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        (seconds / 60, "minute", "minutes")
    } else {
        (seconds, "seconde", "secondes")
    };
    format!("{count} {}", if count > 1 { many } else { one })
}

/// « Déclaration d'accessibilité », in the RGAA's form.
pub async fn accessibility(page: Page) -> Result<Response, PageError> {
    let issuer = page.config.issuer.clone();
    page.render(StatusCode::OK, |_| AccessibilityPage { issuer })
}

/// « Plan du site »: the provider's public pages.
pub async fn site_map(page: Page) -> Result<Response, PageError> {
    page.render(StatusCode::OK, |_| SiteMapPage)
}

#[cfg(test)]
mod tests {
    use super::french_duration;

    #[test]
    fn lifetimes_read_in_the_largest_exact_unit() {
        assert_eq!(french_duration(8 * 3600), "8 heures");
        assert_eq!(french_duration(86_400), "24 heures");
        assert_eq!(french_duration(2 * 86_400), "2 jours");
        assert_eq!(french_duration(60), "1 minute");
        assert_eq!(french_duration(30 * 86_400), "30 jours");
        assert_eq!(french_duration(36 * 3600), "36 heures");
        assert_eq!(french_duration(90), "90 secondes");
    }
}
