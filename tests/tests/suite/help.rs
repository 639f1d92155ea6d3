//! Help and legal pages: the footer's assistance line (guide 002: N°Vert 0 805 032 430) and
//! legal links on every page, the pages those links open, the same configured number in the
//! activation letter, and the « Page non trouvée » answer to unknown paths.

use idp_tests::access::CENTRE;
use idp_tests::{TestApp, assert_shows, csrf_of, page_of, text};
use reqwest::header;
use serde_json::{Value, json};

/// A browser's navigation asks for HTML (the test client sends `*/*` otherwise).
async fn navigate(app: &TestApp, path: &str) -> reqwest::Response {
    app.browser()
        .client
        .get(app.url(path))
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .expect("GET")
}

#[tokio::test]
async fn help_every_page_footer_gives_the_assistance_number_and_the_legal_links() {
    let app = TestApp::spawn().await;
    for path in ["/connexion", "/", "/mot-de-passe-oublie"] {
        let (status, page) = app.browser().page(path).await;
        assert_eq!(status, 200, "{path}");
        assert_shows(&page, "Besoin d'aide ?");
        assert_shows(
            &page,
            "N°Vert <a class=\"fr-link\" href=\"tel:0805032430\">0 805 032 430</a> (service et appel gratuits), du lundi au vendredi de 9h à 18h.",
        );
        assert_shows(
            &page,
            "href=\"https://travail-emploi.gouv.fr/assistance-efp-connect\"",
        );
        assert_shows(&page, ">Portail d'assistance</a>");
        for (href, label) in [
            ("/mentions-legales", "Mentions légales"),
            ("/donnees-personnelles", "Données personnelles"),
            ("/accessibilite", "Accessibilité : partiellement conforme"),
            ("/plan-du-site", "Plan du site"),
        ] {
            assert_shows(
                &page,
                &format!("<a class=\"fr-footer__bottom-link\" href=\"{href}\">{label}</a>"),
            );
        }
        // The ministry's block-mark (the design system draws Marianne and the motto).
        assert_shows(
            &page,
            "<p class=\"fr-logo\">Ministère<br>du Travail<br>et de l'Emploi</p>",
        );
    }
}

#[tokio::test]
async fn help_each_legal_page_answers_with_its_heading_and_its_sections() {
    let app = TestApp::spawn().await;
    for (path, heading, sections) in [
        (
            "/mentions-legales",
            "Mentions légales",
            &[
                "Éditeur",
                "Ministère du Travail et de l'Emploi",
                "DGEFP",
                "Hébergement",
            ][..],
        ),
        (
            "/donnees-personnelles",
            "Données personnelles",
            &[
                "Responsable du traitement",
                "Durées de conservation",
                // The durations are the configuration's defaults, read by the page.
                "une session de connexion dure au plus 8 heures",
                "est valable 24 heures",
                "est valable 30 jours",
                "est valable 90 jours",
                "Vos droits",
            ][..],
        ),
        (
            "/accessibilite",
            "Déclaration d'accessibilité",
            &[
                "<strong>partiellement conforme</strong>",
                "État de conformité",
                "Contenus non accessibles",
                "Établissement de cette déclaration d'accessibilité",
                "Retour d'information et contact",
                "N°Vert <a class=\"fr-link\" href=\"tel:0805032430\">0 805 032 430</a>",
                "Voies de recours",
                "Défenseur des droits",
            ][..],
        ),
        (
            "/plan-du-site",
            "Plan du site",
            &[
                "<a class=\"fr-link\" href=\"/connexion\">Connexion</a>",
                "<a class=\"fr-link\" href=\"/compte/habilitations\">Mes habilitations</a>",
                "<a class=\"fr-link\" href=\"/accessibilite\">Accessibilité : partiellement conforme</a>",
            ][..],
        ),
    ] {
        let (status, page) = app.browser().page(path).await;
        assert_eq!(status, 200, "{path}");
        assert_shows(&page, &format!("<h1>{heading}</h1>"));
        assert_shows(&page, &format!("<title>{heading} - EFP Connect</title>"));
        for section in sections {
            assert_shows(&page, section);
        }
    }
}

#[tokio::test]
async fn help_the_number_hours_and_portal_are_the_configured_ones_on_pages_and_the_letter() {
    let app = TestApp::spawn_with(|c| {
        c.assistance.phone = "0 800 123 456".into();
        c.assistance.hours = "du lundi au samedi de 8h à 20h".into();
        c.assistance.portal_url = "https://assistance.example.gouv.fr/efp".into();
    })
    .await;
    app.establishment(CENTRE, "CENTRE DU LAC", true).await;
    for path in ["/connexion", "/accessibilite"] {
        let (_, page) = app.browser().page(path).await;
        assert_shows(
            &page,
            "N°Vert <a class=\"fr-link\" href=\"tel:0800123456\">0 800 123 456</a> (service et appel gratuits), du lundi au samedi de 8h à 20h",
        );
        assert_shows(&page, "href=\"https://assistance.example.gouv.fr/efp\"");
        assert!(!page.contains("0 805 032 430"), "{path}: {page}");
    }
    // The 404 page has the footer too.
    let (status, page) = page_of(navigate(&app, "/nulle-part").await).await;
    assert_eq!(status, 404);
    assert_shows(&page, "0 800 123 456");

    // The activation letter, as the agent's page shows it...
    app.agent("agent@dreets.gouv.fr").await;
    let browser = app.log_in("agent@dreets.gouv.fr").await;
    let (_, page) = browser
        .page(&format!("/agent?service=ceres&siret={CENTRE}"))
        .await;
    let csrf = csrf_of(&page);
    let r = browser
        .post_form(
            "/agent/codes",
            &[("csrf", &csrf), ("siret", CENTRE), ("service", "ceres")],
        )
        .await;
    assert_eq!(r.status(), 200);
    let letter = text(&r.text().await.expect("page"));
    assert_shows(
        &letter,
        "Pour toute question : assistance EFP Connect, N°Vert 0 800 123 456 (service et appel gratuits), du lundi au samedi de 8h à 20h.",
    );
    // ... and as the back office's API gives it.
    let token = app.back_office_token("ceres-batch", "codes:issue").await;
    let r = app
        .http()
        .post(app.url("/api/v1/codes"))
        .bearer_auth(&token)
        .json(&json!({ "siret": CENTRE }))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
    let issued: Value = r.json().await.expect("JSON");
    assert_eq!(issued["assistance_phone"], "0 800 123 456");
    assert_eq!(issued["assistance_hours"], "du lundi au samedi de 8h à 20h");
}

#[tokio::test]
async fn help_an_unknown_path_answers_404_with_the_french_page_for_a_browser() {
    let app = TestApp::spawn().await;
    let response = navigate(&app, "/page-qui-n-existe-pas").await;
    assert_eq!(response.status(), 404);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("content type")
            .starts_with("text/html"),
    );
    let (_, page) = page_of(response).await;
    assert_shows(&page, "<title>Page non trouvée - EFP Connect</title>");
    assert_shows(&page, "<h1>Page non trouvée</h1>");
    assert_shows(&page, "Erreur 404");
    assert_shows(&page, "La page que vous cherchez est introuvable.");
    assert_shows(&page, "<a class=\"fr-btn\" href=\"/\">Page d'accueil</a>");
    assert_shows(&page, "0 805 032 430");
}

#[tokio::test]
async fn help_machine_clients_keep_the_bare_404() {
    let app = TestApp::spawn().await;
    // A client that does not ask for HTML (the JSON API's, a protocol library's).
    let r = app
        .http()
        .get(app.url("/page-qui-n-existe-pas"))
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.expect("body"), "");
    // The JSON API's paths never get the page, even from a browser.
    let r = navigate(&app, "/api/v1/inconnu").await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.text().await.expect("body"), "");
    // Nor do the design system's files.
    let r = navigate(&app, "/static/dsfr/absent.css").await;
    assert_eq!(r.status(), 404);
    assert!(!r.text().await.expect("body").contains("Page non trouvée"));
}
