//! The local SIRENE register (issue 4): the import of INSEE's StockEtablissement file (and
//! StockUniteLegale for the raison sociale), the search by name, SIREN and SIRET, the INSEE
//! API adapter against a local double of the API, the `idp sirene` commands, and the sign-up's
//! organisation step picking an establishment from the register.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use axum::{
    Json, Router,
    extract::{Path as UrlPath, Query as UrlQuery, State},
    http::{HeaderMap, StatusCode},
    routing::get,
};
use idp::{
    accounts::{Email, store as users},
    cli::{Cli, CliError, Command, SireneCommand},
    config::SireneAuth,
    organizations::{
        Query, Siret,
        import::{self, ImportOptions, ImportReport},
        insee::{self, InseeClient},
        register,
    },
};
use idp_tests::{
    Browser, SmtpSink, TestApp, assert_redirect, assert_shows, code_of, csrf_of, text,
};
use serde_json::{Value, json};

/// The sample shipped for the demo and the tests.
fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sirene/StockEtablissement_sample.csv")
}

fn sample_legal_units() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sirene/StockUniteLegale_sample.csv")
}

const SAMPLE_ROWS: u64 = 32;
/// AFPA-like training body: six establishments, one closed (Lille).
const AFPA_SIREN: &str = "824165062";
const AFPA_HEAD_OFFICE: &str = "82416506200012";
const AFPA_PARIS: &str = "82416506200194";
const AFPA_LILLE_CLOSED: &str = "82416506200509";
const LA_POSTE: &str = "35600000000048";

fn siret(s: &str) -> Siret {
    Siret::parse(s).unwrap()
}

async fn import_files(app: &TestApp, file: &Path, legal_units: Option<&Path>) -> ImportReport {
    import::import(
        &app.state.db,
        file,
        legal_units,
        &ImportOptions::default(),
        |_| {},
    )
    .await
    .expect("import")
}

async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    import_files(&app, &sample(), None).await;
    app
}

/// The register's establishment `s` (asserted there).
async fn stored(app: &TestApp, s: &str) -> register::Establishment {
    register::by_siret(&app.state.db, &siret(s))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{s} in the register"))
}

async fn search(app: &TestApp, q: &str, page: u32) -> register::SearchPage {
    register::search(&app.state.db, &Query::parse(q).unwrap(), page)
        .await
        .unwrap()
}

fn sirets(page: &register::SearchPage) -> Vec<String> {
    page.results
        .iter()
        .map(|e| e.siret.as_str().to_owned())
        .collect()
}

#[tokio::test]
async fn sirene_the_sample_imports_with_progress_and_a_rerun_changes_nothing() {
    let app = TestApp::spawn().await;
    assert!(register::is_empty(&app.state.db).await.unwrap());
    let mut progress = Vec::new();
    let options = ImportOptions {
        batch: 5,
        progress_every: 10,
    };
    let report = import::import(&app.state.db, &sample(), None, &options, |r| {
        progress.push(r.read)
    })
    .await
    .unwrap();
    assert_eq!(report.read, SAMPLE_ROWS);
    assert_eq!(report.imported, SAMPLE_ROWS);
    assert_eq!(report.invalid, 0);
    assert_eq!(report.created, SAMPLE_ROWS);
    assert!(progress.len() >= 3, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert_eq!(progress.last(), Some(&SAMPLE_ROWS));
    assert_eq!(register::count(&app.state.db).await.unwrap(), SAMPLE_ROWS);

    let paris = stored(&app, AFPA_PARIS).await;
    assert_eq!(paris.name, "AFPA PARIS 15");
    assert_eq!(paris.address, "12 RUE DE L'ÉGLISE");
    assert_eq!(paris.postcode, "75015");
    assert_eq!(paris.commune, "PARIS 15");
    assert!(paris.active && !paris.head_office);
    let la_poste = stored(&app, LA_POSTE).await;
    assert!(la_poste.head_office);
    assert_eq!(la_poste.address, "9 RUE DU COLONEL PIERRE AVIA");

    let again = import_files(&app, &sample(), None).await;
    assert_eq!(again.imported, SAMPLE_ROWS);
    assert_eq!(again.created, 0);
    assert_eq!(register::count(&app.state.db).await.unwrap(), SAMPLE_ROWS);
    assert_eq!(stored(&app, AFPA_PARIS).await, paris);
}

#[tokio::test]
async fn sirene_a_reimport_updates_in_place_and_invalid_lines_are_counted_not_fatal() {
    let app = seeded().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("update.csv");
    // Columns in another order, an unknown one, and the minimum INSEE gives.
    std::fs::write(
        &file,
        "colonneInconnue,etatAdministratifEtablissement,siret,siren,enseigne1Etablissement,codePostalEtablissement,libelleCommuneEtablissement,etablissementSiege\n\
         x,F,82416506200194,824165062,AFPA PARIS VAUGIRARD,75015,PARIS 15,false\n\
         x,A,82416506200195,824165062,MAUVAISE CLÉ,75015,PARIS 15,false\n\
         x,A,12345678901234,,CHIFFRES,75015,PARIS,false\n\
         x,X,13002526500013,130025265,ÉTAT INCONNU,75007,PARIS 7,true\n\
         x,A,13002526500013,999999999,SIREN FAUX,75007,PARIS 7,true\n\
         x,A,\"31 22 10 7\",,ESPACES,,,\n",
    )
    .unwrap();
    let report = import_files(&app, &file, None).await;
    assert_eq!(report.read, 6);
    assert_eq!(report.imported, 1);
    assert_eq!(report.invalid, 5);
    assert_eq!(report.created, 0);
    assert_eq!(report.invalid_samples.len(), 5);
    assert_eq!(
        report.invalid_samples[0].0, 3,
        "line numbers count the header"
    );
    assert!(
        report.invalid_samples[0].1.contains("82416506200195"),
        "{:?}",
        report.invalid_samples
    );
    assert!(report.invalid_samples[2].1.contains("état administratif"));
    assert!(report.invalid_samples[3].1.contains("SIREN"));

    let paris = stored(&app, AFPA_PARIS).await;
    assert_eq!(paris.name, "AFPA PARIS VAUGIRARD");
    assert!(!paris.active, "closed by the new stock");
    assert_eq!(register::count(&app.state.db).await.unwrap(), SAMPLE_ROWS);
    let dinum = stored(&app, "13002526500013").await;
    assert_eq!(dinum.name, "DIRECTION INTERMINISTÉRIELLE DU NUMÉRIQUE");
}

#[tokio::test]
async fn sirene_the_raison_sociale_comes_from_the_unites_legales_file_or_an_extra_column() {
    let app = TestApp::spawn().await;
    let report = import_files(&app, &sample(), Some(&sample_legal_units())).await;
    assert_eq!(report.legal_units_read, 4);
    // Six AFPA establishments, one academy; DINUM and La Poste already had these names
    // except for accents.
    assert!(report.renamed >= 7, "{report:?}");
    let found = search(&app, "afpa agence nationale", 1).await;
    assert_eq!(found.total, 6);
    assert!(
        found.results.iter().all(
            |e| e.name == "AFPA AGENCE NATIONALE POUR LA FORMATION PROFESSIONNELLE DES ADULTES"
        )
    );
    assert_eq!(search(&app, "AFPA Paris", 1).await.total, 0);
    // Re-running the same import ends in the same state (the establishments pass names them
    // after their enseigne again, the unités légales pass renames them back).
    let again = import_files(&app, &sample(), Some(&sample_legal_units())).await;
    assert_eq!(again.created, 0);
    assert_eq!(search(&app, "afpa agence nationale", 1).await, found);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("joined.csv");
    std::fs::write(
        &file,
        "siren,siret,etablissementSiege,etatAdministratifEtablissement,enseigne1Etablissement,denominationUniteLegale\n\
         130025265,13002526500013,true,A,ENSEIGNE,DINUM RAISON SOCIALE\n",
    )
    .unwrap();
    import_files(&app, &file, None).await;
    let dinum = stored(&app, "13002526500013").await;
    assert_eq!(dinum.name, "DINUM RAISON SOCIALE");
}

#[tokio::test]
async fn sirene_a_name_prefix_ignores_accents_and_case_and_ranks_open_head_offices_first() {
    let app = seeded().await;
    for q in [
        "école supérieure",
        "ECOLE SUP",
        "Ecole   Supérieure des métiers",
        "école-supérieure",
    ] {
        let found = search(&app, q, 1).await;
        assert_eq!(found.total, 2, "{q}");
        assert_eq!(
            sirets(&found),
            ["49012374200127", "49012374200200"],
            "head office first: {q}"
        );
    }
    // The head office of Étoile is closed: the open establishment comes first.
    let found = search(&app, "centre de formation etoile", 1).await;
    assert_eq!(found.total, 2);
    assert!(found.results[0].active);
    assert!(!found.results[1].active);
    // An exact name beats a longer one, whatever the order of the alphabet.
    let found = search(&app, "la poste", 1).await;
    assert_eq!(sirets(&found), [LA_POSTE, "35600000052135"]);
    assert_eq!(found.summary(), "2 résultats affichés sur 2");
    // A prefix of the name, not a word inside it.
    assert_eq!(search(&app, "supérieure", 1).await.total, 0);
    assert_eq!(search(&app, "zz", 1).await.total, 0);
}

#[tokio::test]
async fn sirene_a_siren_lists_its_establishments_and_a_siret_finds_one() {
    let app = seeded().await;
    let found = search(&app, "824 165 062", 1).await;
    assert_eq!(found.total, 6);
    assert_eq!(found.results[0].siret.as_str(), AFPA_HEAD_OFFICE);
    assert_eq!(
        found.results.last().unwrap().siret.as_str(),
        AFPA_LILLE_CLOSED,
        "closed last"
    );
    assert!(
        found
            .results
            .iter()
            .all(|e| e.siren().as_str() == AFPA_SIREN)
    );
    let found = search(&app, "356 000 000 00048", 1).await;
    assert_eq!(sirets(&found), [LA_POSTE]);
    assert_eq!(found.summary(), "1 résultats affichés sur 1");
    let found = search(&app, "35600000052135", 1).await;
    assert_eq!(found.total, 1, "La Poste's own check rule");
    assert_eq!(search(&app, "13002526500021", 1).await.total, 0);
    assert!(Query::parse("130025266").is_err());
    assert!(Query::parse("1300252650001").is_err());
}

#[tokio::test]
async fn sirene_results_are_paged_with_their_total() {
    let app = seeded().await;
    let first = search(&app, "Formation", 1).await;
    assert_eq!(first.total, 12);
    assert_eq!(first.results.len(), 10);
    assert_eq!(first.pages(), 2);
    assert_eq!(first.summary(), "10 résultats affichés sur 12");
    let second = search(&app, "formation", 2).await;
    assert_eq!(second.results.len(), 2);
    assert_eq!(second.summary(), "2 résultats affichés sur 12");
    let mut all = sirets(&first);
    all.extend(sirets(&second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 12, "no establishment on two pages");
    let beyond = search(&app, "formation", 3).await;
    assert!(beyond.results.is_empty());
    assert_eq!(beyond.total, 12);
    // Names sort without their accents: ÉQUESTRE between DES and FROID, ŒNOLOGIE last.
    assert!(first.results[4].name.starts_with("FORMATION ÉQUESTRE"));
    assert!(second.results[1].name.starts_with("FORMATION ŒNOLOGIE"));
}

#[tokio::test]
async fn sirene_closed_establishments_are_flagged() {
    let app = seeded().await;
    let lille = stored(&app, AFPA_LILLE_CLOSED).await;
    assert!(!lille.active);
    let found = search(&app, "afpa", 1).await;
    assert_eq!(found.total, 6);
    assert_eq!(found.results.iter().filter(|e| !e.active).count(), 1);
    assert_eq!(
        found.results.last().unwrap().siret.as_str(),
        AFPA_LILLE_CLOSED
    );
}

#[tokio::test]
async fn sirene_the_name_search_uses_its_index() {
    let app = seeded().await;
    let sql =
        "SELECT siret FROM establishments WHERE name_search >= 'afpa' AND name_search < 'afpa~'";
    let plan = app.query_plan(sql).await;
    assert_shows(&plan, "establishments_name_search");
}

/// What the INSEE API double saw.
#[derive(Default)]
struct Seen {
    tokens: Vec<Option<String>>,
    bearer: Vec<Option<String>>,
    paths: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

fn insee_etablissement(siret: &str, name: &str, state: &str) -> Value {
    json!({
        "siren": &siret[..9],
        "nic": &siret[9..],
        "siret": siret,
        "etablissementSiege": true,
        "uniteLegale": { "etatAdministratifUniteLegale": "A", "denominationUniteLegale": name },
        "adresseEtablissement": {
            "numeroVoieEtablissement": "4",
            "typeVoieEtablissement": "RUE",
            "libelleVoieEtablissement": "DES TESTS",
            "codePostalEtablissement": "13001",
            "libelleCommuneEtablissement": "MARSEILLE 1"
        },
        "periodesEtablissement": [
            { "dateFin": null, "dateDebut": "2020-01-01", "etatAdministratifEtablissement": state,
              "enseigne1Etablissement": null, "denominationUsuelleEtablissement": null },
            { "dateFin": "2019-12-31", "dateDebut": "2010-01-01", "etatAdministratifEtablissement": "F" }
        ]
    })
}

/// A SIRET the double knows and the sample does not.
const REMOTE: &str = "44306184100047";

fn record(seen: &Shared, headers: &HeaderMap, path: String) {
    let mut seen = seen.lock().unwrap();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    seen.tokens.push(header(insee::API_KEY_HEADER));
    seen.bearer.push(header("authorization"));
    seen.paths.push(path);
}

async fn one(
    State(seen): State<Shared>,
    headers: HeaderMap,
    UrlPath(siret): UrlPath<String>,
) -> (StatusCode, Json<Value>) {
    record(&seen, &headers, format!("/siret/{siret}"));
    if siret == REMOTE {
        (
            StatusCode::OK,
            Json(json!({
                "header": { "statut": 200, "message": "ok" },
                "etablissement": insee_etablissement(REMOTE, "COOPÉRATIVE DISTANTE", "A")
            })),
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({
                "header": { "statut": 404, "message": format!("Aucun élément trouvé pour le siret {siret}") }
            })),
        )
    }
}

async fn many(
    State(seen): State<Shared>,
    headers: HeaderMap,
    UrlQuery(q): UrlQuery<std::collections::HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let text = q.get("q").cloned().unwrap_or_default();
    record(&seen, &headers, format!("/siret?q={text}"));
    if text.contains("lointaine") {
        (
            StatusCode::OK,
            Json(json!({
                "header": { "statut": 200, "message": "OK", "total": 2, "debut": 0, "nombre": 2 },
                "etablissements": [
                    insee_etablissement("55208131766522", "LOINTAINE FORMATION", "A"),
                    insee_etablissement("55208131700042", "LOINTAINE FORMATION", "F")
                ]
            })),
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({ "header": { "statut": 404, "message": "Aucun élément trouvé" } })),
        )
    }
}

/// The double of the INSEE API on port 0; its base URL.
async fn insee_double(seen: Shared) -> String {
    let router = Router::new()
        .route("/api-sirene/3.11/siret/{siret}", get(one))
        .route("/api-sirene/3.11/siret", get(many))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}/api-sirene/3.11/")
}

#[tokio::test]
async fn sirene_a_local_miss_asks_the_insee_api_with_the_token_and_caches_the_answer() {
    let seen = Shared::default();
    let base = insee_double(seen.clone()).await;
    let app = TestApp::spawn_with(|c| {
        c.sirene.api_base_url = Some(base.clone());
        c.sirene.api_token = Some("jeton-secret".into());
    })
    .await;
    import_files(&app, &sample(), None).await;
    let api = app.state.insee.as_ref().expect("API configured");
    assert!(!format!("{api:?}").contains("jeton-secret"));
    assert!(!format!("{:?}", app.state.config.sirene).contains("jeton-secret"));

    // A SIRET of the local register: the API is not asked.
    let local = insee::lookup(&app.state.db, Some(api), &siret(AFPA_PARIS))
        .await
        .unwrap();
    assert!(local.is_some());
    assert!(seen.lock().unwrap().paths.is_empty());

    // A miss: asked, with the key in its header, and cached.
    let remote = insee::lookup(&app.state.db, Some(api), &siret(REMOTE))
        .await
        .unwrap()
        .expect("found by the API");
    assert_eq!(remote.name, "COOPÉRATIVE DISTANTE");
    assert_eq!(remote.address, "4 RUE DES TESTS");
    assert_eq!(remote.commune, "MARSEILLE 1");
    assert!(remote.active && remote.head_office);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.paths, [format!("/siret/{REMOTE}")]);
        assert_eq!(seen.tokens, [Some("jeton-secret".to_owned())]);
        assert_eq!(seen.bearer, [None]);
    }
    assert_eq!(
        register::by_siret(&app.state.db, &siret(REMOTE))
            .await
            .unwrap(),
        Some(remote.clone())
    );
    insee::lookup(&app.state.db, Some(api), &siret(REMOTE))
        .await
        .unwrap();
    assert_eq!(
        seen.lock().unwrap().paths.len(),
        1,
        "the second lookup is local"
    );

    // Unknown to INSEE too: a 404, read as "not found".
    let unknown = siret("13002526500021");
    assert_eq!(
        insee::lookup(&app.state.db, Some(api), &unknown)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(api.siret(&unknown).await, Ok(None)));

    // A name the register does not know: the API's answers are cached and searched.
    let found = insee::search(
        &app.state.db,
        Some(api),
        &Query::parse("Lointaine").unwrap(),
        1,
    )
    .await
    .unwrap();
    assert_eq!(found.total, 2);
    assert!(found.results[0].active && !found.results[1].active);
    let asked = seen.lock().unwrap().paths.last().cloned().unwrap();
    assert_eq!(asked, "/siret?q=raisonSociale:\"lointaine\"");
    assert_eq!(search(&app, "lointaine", 1).await.total, 2);
}

#[tokio::test]
async fn sirene_the_api_token_may_be_a_bearer_token_and_an_unreachable_api_is_a_miss() {
    let seen = Shared::default();
    let base = insee_double(seen.clone()).await;
    let mut config = idp::config::SireneConfig {
        api_base_url: Some(base),
        api_token: Some("jeton".into()),
        api_auth: SireneAuth::Bearer,
        timeout_seconds: 2,
    };
    let api = InseeClient::from_config(&config).unwrap();
    assert!(api.siret(&siret(REMOTE)).await.unwrap().is_some());
    assert_eq!(
        seen.lock().unwrap().bearer,
        [Some("Bearer jeton".to_owned())]
    );
    assert_eq!(seen.lock().unwrap().tokens, [None]);

    let port = idp_tests::free_port();
    config.api_base_url = Some(format!("http://127.0.0.1:{port}"));
    let down = InseeClient::from_config(&config).unwrap();
    assert!(down.siret(&siret(REMOTE)).await.is_err());
    let app = TestApp::spawn().await;
    assert_eq!(
        insee::lookup(&app.state.db, Some(&down), &siret(REMOTE))
            .await
            .unwrap(),
        None
    );
    config.api_base_url = None;
    assert!(InseeClient::from_config(&config).is_none());
}

async fn cli(app: &TestApp, command: SireneCommand) -> Result<(), CliError> {
    let cli = Cli {
        config: None,
        command: Command::Sirene(command),
    };
    idp::cli::run(cli, (*app.state.config).clone()).await
}

fn import_command(file: PathBuf, legal_units: Option<PathBuf>) -> SireneCommand {
    SireneCommand::Import {
        file,
        unites_legales: legal_units,
        batch_size: 1000,
        progress_every: 0,
    }
}

#[tokio::test]
async fn sirene_the_commands_import_search_and_explain_their_errors_in_french() {
    let app = TestApp::spawn().await;
    cli(&app, import_command(sample(), Some(sample_legal_units())))
        .await
        .unwrap();
    assert_eq!(register::count(&app.state.db).await.unwrap(), SAMPLE_ROWS);
    cli(
        &app,
        SireneCommand::Search {
            query: "afpa".into(),
            page: 1,
        },
    )
    .await
    .unwrap();

    let missing = cli(&app, import_command("/nulle/part.csv".into(), None))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.starts_with("import SIRENE : fichier /nulle/part.csv illisible"),
        "{missing}"
    );
    let missing = cli(&app, import_command(sample(), Some("/nulle/ul.csv".into())))
        .await
        .unwrap_err()
        .to_string();
    assert_shows(&missing, "/nulle/ul.csv illisible");

    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("autre.csv");
    std::fs::write(&wrong, "nom,prenom\nDupont,Jean\n").unwrap();
    let message = cli(&app, import_command(wrong.clone(), None))
        .await
        .unwrap_err()
        .to_string();
    assert_shows(&message, "colonne « siret » absente");
    let message = cli(&app, import_command(sample(), Some(wrong)))
        .await
        .unwrap_err()
        .to_string();
    assert_shows(&message, "colonne « siren » absente");
    let broken = dir.path().join("casse.csv");
    // INSEE's files are UTF-8: a Latin-1 file stops at its first accent, with its line.
    std::fs::write(
        &broken,
        b"siret,etatAdministratifEtablissement,enseigne1Etablissement\n13002526500013,A,DINUM\n35600000000048,A,CAF\xc9\n",
    )
    .unwrap();
    let message = cli(&app, import_command(broken, None))
        .await
        .unwrap_err()
        .to_string();
    assert_shows(&message, "casse.csv, ligne 3");

    for (query, expected) in [
        ("", "Saisissez une raison sociale, un SIREN ou un SIRET."),
        ("a", "Saisissez au moins 2 caractères"),
        ("130025266", "Ce numéro SIREN n'existe pas"),
    ] {
        let message = cli(
            &app,
            SireneCommand::Search {
                query: query.into(),
                page: 1,
            },
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(message.starts_with("recherche SIRENE : "), "{message}");
        assert!(message.contains(expected), "{query}: {message}");
    }
}

// --- The sign-up's organisation step with the register ---------------------------------------

const JEANNE: &str = "jeanne.martin@centre-formation.fr";
const GOOD_PASSWORD: &str = "Tulipe-Orage-42";

async fn post(browser: &Browser, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let token = csrf_of(&browser.get("/inscription").await.text().await.unwrap());
    let mut form = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    browser.post_form(path, &form).await
}

/// Posts the organisation step with `fields`: the answer's text, asserted `status`.
async fn pick(browser: &Browser, fields: &[(&str, &str)], status: u16) -> String {
    let answer = post(browser, "/inscription/organisation", fields).await;
    assert_eq!(answer.status(), status, "{fields:?}");
    text(&answer.text().await.unwrap())
}

async fn page(browser: &Browser, path: &str) -> (u16, String) {
    let response = browser.get(path).await;
    (
        response.status().as_u16(),
        text(&response.text().await.unwrap()),
    )
}

async fn up_to_organization(browser: &Browser, sink: &SmtpSink) {
    post(browser, "/inscription", &[("email", JEANNE)]).await;
    let mail = sink.wait_for(1).await[0].clone();
    post(browser, "/inscription/code", &[("code", &code_of(&mail))]).await;
    post(
        browser,
        "/inscription/mot-de-passe",
        &[("password", GOOD_PASSWORD), ("confirmation", GOOD_PASSWORD)],
    )
    .await;
    let answer = post(
        browser,
        "/inscription/identite",
        &[
            ("civilite", "madame"),
            ("nom", "Martin"),
            ("prenom", "Jeanne"),
        ],
    )
    .await;
    assert_redirect(&answer, "/inscription/organisation");
}

#[tokio::test]
async fn sirene_the_signup_asks_the_poste_then_the_company_and_rechercher_keeps_the_poste() {
    let (sink, app) = TestApp::with_mailbox().await;
    import_files(&app, &sample(), Some(&sample_legal_units())).await;
    let browser = app.browser();
    up_to_organization(&browser, &sink).await;
    let (_, html) = page(&browser, "/inscription/organisation").await;
    // Guide 002 §3.2, steps 9 to 11: the poste, then « Raison sociale ou SIREN ».
    let poste = html.find("Poste occupé").expect("poste");
    let company = html
        .find("Raison sociale ou SIREN (9 chiffres) de l'entreprise *")
        .expect("company");
    assert!(poste < company, "{html}");

    // « Rechercher » posts the one form: the poste typed first is kept.
    let answer = post(
        &browser,
        "/inscription/organisation",
        &[
            ("poste", "DRH"),
            ("recherche", "AFPA agence"),
            ("rechercher", "1"),
        ],
    )
    .await;
    assert_redirect(
        &answer,
        "/inscription/organisation?recherche=AFPA+agence&page=1",
    );
    let (_, html) = page(
        &browser,
        "/inscription/organisation?recherche=AFPA+agence&page=1",
    )
    .await;
    assert_shows(&html, "6 résultats affichés sur 6");
    assert_shows(&html, "value=\"DRH\"");
    // Nothing was created by a search, even with the box ticked.
    let answer = post(
        &browser,
        "/inscription/organisation",
        &[
            ("siret", AFPA_PARIS),
            ("cgu", "on"),
            ("rechercher", "1"),
            ("recherche", "afpa"),
        ],
    )
    .await;
    assert_eq!(answer.status(), 303);
    let user = users::user_by_email(&app.state.db, &Email::parse(JEANNE).unwrap())
        .await
        .unwrap();
    assert!(user.is_none());
}

#[tokio::test]
async fn sirene_the_signup_searches_the_register_and_stores_the_chosen_establishment() {
    let (sink, app) = TestApp::with_mailbox().await;
    import_files(&app, &sample(), Some(&sample_legal_units())).await;
    let browser = app.browser();
    up_to_organization(&browser, &sink).await;

    let (status, html) = page(&browser, "/inscription/organisation").await;
    assert_eq!(status, 200);
    assert_shows(&html, "name=\"recherche\"");
    assert!(!html.contains("name=\"raison_sociale\""), "{html}");

    let (_, html) = page(&browser, "/inscription/organisation?recherche=a").await;
    assert_shows(&html, "Saisissez au moins 2 caractères");

    let (status, html) = page(&browser, "/inscription/organisation?recherche=Formation").await;
    assert_eq!(status, 200);
    assert_shows(&html, "10 résultats affichés sur 12");
    assert_shows(&html, "Page 1 sur 2");
    assert_shows(
        &html,
        "href=\"/inscription/organisation?recherche=Formation&page=2\"",
    );
    let (_, html) = page(
        &browser,
        "/inscription/organisation?recherche=Formation&page=2",
    )
    .await;
    assert_shows(&html, "2 résultats affichés sur 12");

    let (_, html) = page(&browser, "/inscription/organisation?recherche=AFPA+agence").await;
    assert_shows(&html, "6 résultats affichés sur 6");
    assert_shows(&html, "fermé");
    assert!(
        html.contains(&format!("value=\"{AFPA_LILLE_CLOSED}\" disabled")),
        "{html}"
    );
    assert_shows(&html, "SIRET 824 165 062 00194");

    // The closed establishment cannot be picked, even by a hand-made form.
    let html = pick(
        &browser,
        &[
            ("siret", AFPA_LILLE_CLOSED),
            ("cgu", "on"),
            ("recherche", "afpa"),
        ],
        400,
    )
    .await;
    assert_shows(&html, "Cet établissement est fermé");
    assert_shows(&html, "6 résultats affichés sur 6");
    // Nothing picked.
    assert_shows(
        &pick(&browser, &[("cgu", "on")], 400).await,
        "Veuillez rechercher votre établissement",
    );
    // Unknown SIRET.
    assert_shows(
        &pick(&browser, &[("siret", "13002526500021"), ("cgu", "on")], 400).await,
        "introuvable dans le répertoire SIRENE",
    );

    // Picked, terms not accepted: the choice comes back checked.
    let html = pick(
        &browser,
        &[
            ("siret", AFPA_PARIS),
            ("poste", "Formatrice"),
            ("recherche", "afpa"),
        ],
        400,
    )
    .await;
    assert!(
        html.contains(&format!("value=\"{AFPA_PARIS}\" checked")),
        "{html}"
    );
    // Back on the page later: the choice is still there.
    let (_, html) = page(&browser, "/inscription/organisation").await;
    assert!(
        html.contains(&format!("value=\"{AFPA_PARIS}\" checked")),
        "{html}"
    );

    let answer = post(
        &browser,
        "/inscription/organisation",
        &[
            ("siret", AFPA_PARIS),
            ("poste", "Formatrice"),
            ("cgu", "on"),
        ],
    )
    .await;
    assert_eq!(answer.status(), 200);
    let user = users::user_by_email(&app.state.db, &Email::parse(JEANNE).unwrap())
        .await
        .unwrap()
        .expect("account created");
    assert_eq!(user.siret.as_deref(), Some(AFPA_PARIS));
    assert_eq!(
        user.organization_label.as_deref(),
        Some("AFPA AGENCE NATIONALE POUR LA FORMATION PROFESSIONNELLE DES ADULTES")
    );
    assert_eq!(user.job.as_deref(), Some("Formatrice"));
}

#[tokio::test]
async fn sirene_an_empty_register_keeps_the_typed_organisation_form() {
    let (sink, app) = TestApp::with_mailbox().await;
    let browser = app.browser();
    up_to_organization(&browser, &sink).await;
    let (_, html) = page(&browser, "/inscription/organisation").await;
    assert_shows(&html, "name=\"raison_sociale\"");
    assert!(!html.contains("name=\"recherche\""), "{html}");
}

#[tokio::test]
async fn sirene_a_broad_prefix_is_listed_in_name_order_with_its_total() {
    let app = TestApp::spawn().await;
    let n = register::RANKED_MAX as usize + 100;
    let batch: Vec<register::Establishment> = (0..n)
        .map(|i| {
            let base = format!("{:013}", 4_000_000_000_000u64 + i as u64 * 10);
            let siret = (0..10)
                .find_map(|d| Siret::parse(&format!("{base}{d}")).ok())
                .unwrap();
            register::Establishment {
                siret,
                name: format!("GARAGE {i:04}"),
                address: String::new(),
                postcode: String::new(),
                commune: String::new(),
                active: i % 3 != 0,
                head_office: i % 2 == 0,
            }
        })
        .collect();
    register::upsert(&app.state.db, &batch, 1).await.unwrap();
    let first = search(&app, "garage", 1).await;
    assert_eq!(first.total, n as u64);
    let names: Vec<&str> = first.results.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names[0], "GARAGE 0000", "closed, yet first: name order");
    assert_eq!(names[9], "GARAGE 0009");
    let last = search(&app, "garage", first.pages()).await;
    assert_eq!(
        last.results.last().unwrap().name,
        format!("GARAGE {:04}", n - 1)
    );
    assert_eq!(last.summary(), format!("10 résultats affichés sur {n}"));
    // Narrowed under the threshold, the ranking is back: open establishments first.
    let narrow = search(&app, "garage 00", 1).await;
    assert_eq!(narrow.total, 100);
    assert!(narrow.results.iter().all(|e| e.active && e.head_office));
}

#[tokio::test]
async fn sirene_a_single_result_comes_checked_and_several_do_not() {
    let (sink, app) = TestApp::with_mailbox().await;
    import_files(&app, &sample(), Some(&sample_legal_units())).await;
    let browser = app.browser();
    up_to_organization(&browser, &sink).await;

    let one = format!("/inscription/organisation?recherche={AFPA_PARIS}");
    let (_, html) = page(&browser, &one).await;
    assert!(
        html.contains(&format!("value=\"{AFPA_PARIS}\" checked")),
        "{html}"
    );
    // Several results: the person chooses.
    let (_, html) = page(&browser, "/inscription/organisation?recherche=AFPA+agence").await;
    assert_shows(&html, "6 résultats affichés sur 6");
    assert!(!html.contains("checked"), "{html}");
    // A single closed establishment cannot be chosen, so it is not checked either.
    let closed = format!("/inscription/organisation?recherche={AFPA_LILLE_CLOSED}");
    let (_, html) = page(&browser, &closed).await;
    assert!(
        html.contains(&format!("value=\"{AFPA_LILLE_CLOSED}\" disabled")),
        "{html}"
    );
    assert!(!html.contains("checked"), "{html}");
}
