//! The pages' look: the state design system (DSFR) compiled into the binaries and served under
//! a content-hashed path, the layout's accessibility landmarks, and the `idp` binary serving
//! styled pages from an empty directory (nothing but its configuration and keys).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use idp_tests::*;
use reqwest::header;

/// Where the design system's files are: `/static/dsfr/<hash of the bundle>`.
fn dsfr() -> &'static str {
    dsfr_assets::base()
}

async fn app_with_dsfr() -> TestApp {
    TestApp::spawn().await
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
    for (file, content_type) in [
        ("dsfr.min.css", "text/css"),
        ("dsfr.module.min.js", "text/javascript"),
        ("utility/icons/icons.min.css", "text/css"),
        ("fonts/Marianne-Regular.woff2", "font/woff2"),
        ("icons/system/fr--error-fill.svg", "image/svg+xml"),
        ("favicon/favicon.svg", "image/svg+xml"),
    ] {
        let path = format!("{}/{file}", dsfr());
        let response = browser.get(&path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            header_of(&response, header::CONTENT_TYPE).starts_with(content_type),
            "{path}: {:?}",
            response.headers()
        );
        assert_eq!(
            header_of(&response, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable",
            "{path}"
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
    let base = dsfr();
    let unpublished = [
        format!("{base}/README.md"),
        format!("{base}/dsfr.min.css.map"),
        format!("{base}/dsfr.css"),
        format!("{base}/utility/utility.min.css"),
        format!("{base}/icons/weather/windy-line.svg"),
        // Without the bundle's hash, or with another bundle's (a page from before an upgrade).
        "/static/dsfr/dsfr.min.css".to_owned(),
        "/static/dsfr/0123456789abcdef/dsfr.min.css".to_owned(),
    ];
    for path in unpublished {
        let response = app.browser().get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        // A 404 is not kept by caches, and is not the « page not found » page.
        assert!(
            !header_of(&response, header::CACHE_CONTROL).contains("max-age"),
            "{path}: {:?}",
            response.headers()
        );
    }
}

/// Every `url(…)` of the two stylesheets the layout links (fonts, icons) is served: the
/// vendored copy was not trimmed of something the pages need.
#[tokio::test]
async fn every_file_the_stylesheets_point_to_is_served() {
    let app = app_with_dsfr().await;
    let browser = app.browser();
    let mut checked = 0;
    for stylesheet in ["dsfr.min.css", "utility/icons/icons.min.css"] {
        let css = browser
            .get(&format!("{}/{stylesheet}", dsfr()))
            .await
            .text()
            .await
            .expect("css");
        let folder = Path::new(dsfr()).join(stylesheet);
        let folder = folder.parent().expect("folder");
        for url in css.split("url(").skip(1) {
            let url = url[..url.find(')').expect("url end")].trim_matches(['"', '\'']);
            if url.starts_with("data:") {
                continue;
            }
            let mut path = PathBuf::new();
            for part in folder.join(url).components() {
                match part {
                    std::path::Component::ParentDir => {
                        path.pop();
                    }
                    other => path.push(other),
                }
            }
            let path = path.to_str().expect("utf-8").to_owned();
            assert_eq!(
                browser.get(&path).await.status(),
                200,
                "{stylesheet}: {url}"
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} files");
}

/// The icon classes the templates use are in the trimmed icons stylesheet
/// (`scripts/dsfr-vendor.sh` keeps only those).
#[tokio::test]
async fn every_icon_class_the_templates_use_is_styled() {
    let app = app_with_dsfr().await;
    let css = app
        .browser()
        .get(&format!("{}/utility/icons/icons.min.css", dsfr()))
        .await
        .text()
        .await
        .expect("css");
    let mut used = Vec::new();
    for folder in [
        "idp/src",
        "relying-party-demo/src",
        "relying-party-demo/templates",
    ] {
        collect_icon_classes(&repo().join(folder), &mut used);
    }
    assert!(used.len() >= 10, "{used:?}");
    for class in used {
        assert!(
            css.contains(&format!(".{class}:before")),
            "{class} is not styled"
        );
    }
}

fn collect_icon_classes(folder: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(folder).expect("folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            collect_icon_classes(&path, found);
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (at, _) in text.match_indices("fr-icon-") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-')
                .collect();
            if name.len() > "fr-icon-".len() && !found.contains(&name) {
                found.push(name);
            }
        }
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
        format!("href=\"{}/dsfr.min.css\"", dsfr()),
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
            assert!(
                tag.contains(&format!(" src=\"{}/", dsfr())),
                "{path}: {tag}"
            );
        }
    }
}

/// The provider as it is deployed: the built `idp` binary, run as a process in an empty
/// directory holding only its configuration file and its key-encryption key. Its pages link
/// the design system, served from the binary itself.
#[tokio::test]
async fn the_binary_serves_styled_pages_from_an_empty_directory() {
    let (dir, port) = deployment("");
    let idp = Process::start(dir.path());
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    idp.wait_ready(&http, &base).await;

    let page = http
        .get(format!("{base}/connexion"))
        .send()
        .await
        .expect("GET /connexion");
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("page");
    let stylesheet = page
        .split("<link rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stylesheet link")
        .to_owned();
    assert_eq!(stylesheet, format!("{}/dsfr.min.css", dsfr()), "{page}");
    for file in [
        stylesheet.clone(),
        stylesheet.replace("dsfr.min.css", "fonts/Marianne-Bold.woff2"),
    ] {
        let response = http.get(format!("{base}{file}")).send().await.expect("GET");
        assert_eq!(response.status(), 200, "{file}");
        assert_eq!(
            header_of(&response, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        if file == stylesheet {
            assert!(header_of(&response, header::CONTENT_TYPE).starts_with("text/css"));
            assert!(response.text().await.expect("css").contains(".fr-btn"));
        }
    }
    // Nothing was read from, or written to, a design system folder: the directory holds the
    // configuration, the keys and what the provider wrote (its database, data/outbox).
    let mut entries: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .filter(|name| !name.starts_with("idp.db"))
        .collect();
    entries.sort();
    assert!(
        entries
            .iter()
            .all(|e| ["data", "idp.toml", "keys"].contains(&e.as_str())),
        "{entries:?}"
    );
}

/// An empty directory holding only what a deployment gives the provider: its configuration
/// file (a free port, embedded SQLite, then `extra` lines) and its key-encryption key.
fn deployment(extra: &str) -> (tempfile::TempDir, u16) {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    std::fs::write(
        dir.path().join("idp.toml"),
        format!(
            "issuer = \"http://127.0.0.1:{port}\"\n\
             listen = \"127.0.0.1:{port}\"\n\
             database_url = \"sqlite://idp.db?mode=rwc\"\n{extra}"
        ),
    )
    .expect("configuration");
    std::fs::create_dir(dir.path().join("keys")).expect("keys/");
    std::fs::write(
        dir.path().join("keys/kek.key"),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    )
    .expect("kek");
    (dir, port)
}

/// The `idp` binary cargo built beside this test (`scripts/test.sh` builds it first), running
/// `serve` in `dir`; killed when dropped.
struct Process(Child);

impl Process {
    fn start(dir: &Path) -> Self {
        Self::start_with(dir, Stdio::null(), "warn")
    }

    /// [`Process::start`] with its standard output (the JSON logs) to `stdout`, at `level`.
    fn start_with(dir: &Path, stdout: impl Into<Stdio>, level: &str) -> Self {
        install_crypto();
        let bin = idp_binary();
        let mut command = Command::new(&bin);
        command
            .args(["serve", "--config", "idp.toml"])
            .current_dir(dir)
            .stdout(stdout)
            .stderr(Stdio::inherit());
        // The harness's own variables must not reach the server: the file is its configuration.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("IDP_") {
                command.env_remove(name);
            }
        }
        Self(command.env("IDP_LOG", level).spawn().expect("idp serve"))
    }

    async fn wait_ready(&self, http: &reqwest::Client, base: &str) {
        for _ in 0..300 {
            if let Ok(r) = http.get(format!("{base}/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("idp serve did not answer /readyz within 30 s");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_json_logs_name_the_request_the_client_and_its_address_and_never_a_secret() {
    let (dir, port) = deployment("log_format = \"json\"\n");
    let created = Command::new(idp_binary())
        .args(["clients", "create", "back-office", "--name", "Support"])
        .args(["--grant-type", "client_credentials", "--scope", "admin"])
        .args(["--config", "idp.toml"])
        .current_dir(dir.path())
        .env("IDP_LOG", "warn")
        .output()
        .expect("idp clients create");
    let printed = String::from_utf8_lossy(&created.stdout).into_owned();
    let secret = printed
        .lines()
        .find_map(|l| l.split(" : ").nth(1).filter(|_| l.starts_with("secret")))
        .unwrap_or_else(|| panic!("a secret in {printed}"))
        .trim()
        .to_owned();
    let log_path = dir.path().join("idp.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let idp = Process::start_with(dir.path(), log, "info");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    idp.wait_ready(&http, &base).await;

    let token: serde_json::Value = http
        .post(format!("{base}/token"))
        .basic_auth("back-office", Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("JSON");
    let access = token["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let listed = http
        .get(format!(
            "{base}/api/v1/admin/users?email=personne.secrete@example.fr"
        ))
        .bearer_auth(&access)
        .send()
        .await
        .expect("admin API");
    assert_eq!(listed.status(), 200);
    // A login with an address and a password: neither may reach the logs.
    let _ = http
        .post(format!("{base}/connexion"))
        .form(&[
            ("email", "personne.secrete@example.fr"),
            ("password", "Mot-de-passe-42"),
        ])
        .send()
        .await
        .expect("login");
    drop(idp);

    let logs = std::fs::read_to_string(&log_path).expect("logs");
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let served = |route: &str| {
        lines.iter().find(|l| {
            l["fields"]["message"] == "request served" && l["spans"][0]["http.route"] == route
        })
    };
    for route in ["/token", "/api/v1/admin/users"] {
        let line = served(route).unwrap_or_else(|| panic!("{route} in\n{logs}"));
        assert_eq!(line["spans"][0]["client.id"], "back-office", "{line}");
        assert_eq!(line["spans"][0]["client.ip"], "127.0.0.1", "{line}");
        assert!(
            line["spans"][0]["request.id"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
    }
    for secret in [
        secret.as_str(),
        access.as_str(),
        "personne.secrete",
        "Mot-de-passe-42",
    ] {
        assert!(!logs.contains(secret), "{secret} reached the logs");
    }
}
