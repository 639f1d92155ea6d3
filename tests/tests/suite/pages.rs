//! The pages' look: the state design system (DSFR) served by the provider itself, the layout's
//! accessibility landmarks, and pages that still work when the design system is not installed.

use std::path::PathBuf;

use idp_tests::*;
use reqwest::header;

/// The DSFR `dist` folder installed by `scripts/assets.sh` (the harness's default `static_dir`
/// is relative to the repository root, not to this crate).
fn dsfr_dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/node_modules/@gouvfr/dsfr/dist")
}

/// The DSFR version pinned in web/package.json.
fn dsfr_version() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web/package.json");
    let package: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("web/package.json"))
            .expect("JSON");
    package["dependencies"]["@gouvfr/dsfr"]
        .as_str()
        .expect("@gouvfr/dsfr pinned")
        .to_owned()
}

async fn app_with_dsfr() -> TestApp {
    assert!(
        dsfr_dist().join("dsfr.min.css").is_file(),
        "run scripts/assets.sh first"
    );
    TestApp::spawn_with(|c| c.static_dir = dsfr_dist()).await
}

fn header_of(response: &reqwest::Response, name: header::HeaderName) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_design_system_files_are_served_with_their_type_and_a_long_cache() {
    let app = app_with_dsfr().await;
    let browser = app.browser();
    for (path, content_type) in [
        ("/static/dsfr/dsfr.min.css", "text/css"),
        ("/static/dsfr/dsfr.module.min.js", "text/javascript"),
        ("/static/dsfr/fonts/Marianne-Regular.woff2", "font/woff2"),
        (
            "/static/dsfr/icons/system/fr--error-fill.svg",
            "image/svg+xml",
        ),
        ("/static/dsfr/favicon/favicon.svg", "image/svg+xml"),
    ] {
        let response = browser.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            header_of(&response, header::CONTENT_TYPE).starts_with(content_type),
            "{path}: {:?}",
            response.headers()
        );
        assert!(
            header_of(&response, header::CACHE_CONTROL).contains("max-age=31536000"),
            "{path}: {:?}",
            response.headers()
        );
        assert_eq!(
            header_of(&response, header::X_CONTENT_TYPE_OPTIONS),
            "nosniff"
        );
    }
}

#[tokio::test]
async fn only_the_files_the_pages_use_are_published() {
    let app = app_with_dsfr().await;
    let unpublished = [
        "/static/dsfr/README.md",
        "/static/dsfr/dsfr.min.css.map",
        "/static/dsfr/dsfr.css",
        "/static/dsfr/utility/utility.min.css",
    ];
    for path in unpublished {
        assert_eq!(app.browser().get(path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn the_login_page_links_the_design_system_and_labels_its_fields() {
    let app = app_with_dsfr().await;
    let response = app.browser().get("/connexion").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("page");
    for expected in [
        "<html lang=\"fr\"".to_owned(),
        format!("href=\"/static/dsfr/dsfr.min.css?v={}\"", dsfr_version()),
        "href=\"/static/idp.css\"".to_owned(),
        // Skip link to the main content, and its target.
        "<a class=\"fr-link\" href=\"#contenu\">Contenu</a>".to_owned(),
        "<main role=\"main\" id=\"contenu\"".to_owned(),
        "<p class=\"fr-logo\">République<br>Française</p>".to_owned(),
        "<p class=\"fr-header__service-title\">EFP Connect</p>".to_owned(),
        "<label class=\"fr-label\" for=\"email\">Identifiant (e-mail professionnel)".to_owned(),
        "<label class=\"fr-label\" for=\"password\">Mot de passe</label>".to_owned(),
        "<label class=\"fr-password__checkbox fr-label\" for=\"password-show\">Afficher</label>"
            .to_owned(),
        "Je m'identifie avec EFP CONNECT".to_owned(),
    ] {
        assert!(page.contains(&expected), "{expected} not in {page}");
    }
    // No error yet: nothing announced, no field marked invalid.
    assert!(!page.contains("role=\"alert\""), "{page}");
    assert!(!page.contains("aria-invalid"), "{page}");
}

#[tokio::test]
async fn a_refused_login_is_announced_and_points_the_fields_to_the_message() {
    let app = app_with_dsfr().await;
    app.user("alice@centre.fr").await;
    let response = app
        .browser()
        .submit_login("/connexion", "alice@centre.fr", "pas-le-bon-mot-de-passe")
        .await;
    assert_eq!(response.status(), 401);
    let page = response.text().await.expect("page");
    assert_shows(&page, "<title>Erreur - Connexion - EFP Connect</title>");
    assert_shows(&page, "role=\"alert\" id=\"login-error\"");
    assert_shows(&page, "Identifiant ou mot de passe incorrect.");
    assert_eq!(
        page.matches("aria-invalid=\"true\" aria-describedby=\"login-error\"")
            .count(),
        2,
        "{page}"
    );
}

#[tokio::test]
async fn pages_need_no_inline_style_or_script_so_the_csp_stays_self_only() {
    let app = app_with_dsfr().await;
    for path in ["/connexion", "/", "/page-qui-n-existe-pas", "/authorize"] {
        let response = app.browser().get(path).await;
        let csp = header_of(&response, header::CONTENT_SECURITY_POLICY);
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        let page = response.text().await.expect("page");
        if !page.contains("<html") {
            continue;
        }
        assert!(!page.contains(" style="), "{path}: {page}");
        assert!(!page.contains("<style"), "{path}: {page}");
        for script in page.split("<script").skip(1) {
            let tag = &script[..script.find('>').expect("tag end")];
            assert!(tag.contains(" src=\"/static/dsfr/"), "{path}: {tag}");
        }
    }
}

#[tokio::test]
async fn without_the_design_system_files_the_provider_starts_and_pages_still_render() {
    let missing = tempfile::tempdir().expect("temp dir");
    let app = TestApp::spawn_with(|c| c.static_dir = missing.path().join("absent")).await;
    let browser = app.browser();
    assert_eq!(browser.get("/readyz").await.status(), 200);
    let response = browser.get("/connexion").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.expect("page");
    assert_shows(&page, "Identifiant (e-mail professionnel)");
    assert!(hidden_field(&page, "csrf").is_some(), "{page}");
    // The stylesheet is simply not there, and its absence is not cached.
    let response = browser.get("/static/dsfr/dsfr.min.css").await;
    assert_eq!(response.status(), 404);
    assert!(
        !header_of(&response, header::CACHE_CONTROL).contains("max-age"),
        "{:?}",
        response.headers()
    );
    // Our own additions are compiled in.
    assert_eq!(browser.get("/static/idp.css").await.status(), 200);
    // And a user still logs in.
    app.user("alice@centre.fr").await;
    let response = browser
        .submit_login("/connexion", "alice@centre.fr", PASSWORD)
        .await;
    assert_redirect(&response, "/");
}
