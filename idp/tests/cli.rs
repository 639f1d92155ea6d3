//! The `idp` command line, run as the operator runs it: the binary, a SQLite database in a
//! temporary folder, configuration from `IDP_*` variables.

use std::process::Command;

use idp::{oidc::clients, secrets, store::Db};
use serde_json::Value;

/// One deployment: a folder with its database and key material.
struct Idp {
    dir: tempfile::TempDir,
}

/// What a command did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        self
    }

    /// Exit code 2 with `needle` on stderr.
    fn refused(self, needle: &str) -> Self {
        assert_eq!(self.code, 2, "expected exit code 2: {self:#?}");
        assert!(
            self.stderr.contains(needle),
            "stderr should mention « {needle} »: {self:#?}"
        );
        self
    }
}

const SECRET_LINE: &str = "secret (affiché une seule fois) : ";

/// The secret printed after `marker`.
fn secret_after(stdout: &str, marker: &str) -> String {
    let start = stdout
        .find(marker)
        .unwrap_or_else(|| panic!("no « {marker} » in {stdout}"))
        + marker.len();
    stdout[start..]
        .split_whitespace()
        .next()
        .expect("a secret")
        .to_owned()
}

/// A key as `keys list` shows it.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    kid: String,
    alg: String,
    state: String,
}

impl Idp {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn database_url(&self) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self.dir.path().join("idp.db").display()
        )
    }

    fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_idp"));
        // Only what the test sets: nothing of the caller's environment configures the provider.
        for (key, _) in std::env::vars_os() {
            if key
                .to_string_lossy()
                .to_ascii_uppercase()
                .starts_with("IDP_")
            {
                command.env_remove(key);
            }
        }
        command
            .args(args)
            .env("IDP_DATABASE_URL", self.database_url())
            .env("IDP_KEYS__DIR", self.dir.path().join("keys"))
            .env("IDP_LOG", "warn");
        for (k, v) in env {
            command.env(k, v);
        }
        let output = command.output().expect("the idp binary runs");
        Run {
            code: output.status.code().expect("exit code"),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    fn show(&self, client_id: &str) -> Value {
        let run = self.run(&["clients", "show", client_id]).ok();
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
    }

    fn keys(&self) -> Vec<Key> {
        let run = self.run(&["keys", "list"]).ok();
        run.stdout
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                Key {
                    kid: cols[0].to_owned(),
                    alg: cols[1].to_owned(),
                    state: cols[2].to_owned(),
                }
            })
            .collect()
    }

    async fn db(&self) -> Db {
        Db::connect(&self.database_url()).await.expect("database")
    }

    async fn secret_hash(&self, client_id: &str) -> Option<String> {
        clients::client_by_id(&self.db().await, client_id)
            .await
            .expect("query")
            .expect("client stored")
            .secret_hash
    }
}

fn count(keys: &[Key], alg: &str, state: &str) -> usize {
    keys.iter()
        .filter(|k| k.alg == alg && k.state == state)
        .count()
}

fn only<'a>(keys: &'a [Key], alg: &str, state: &str) -> &'a Key {
    let found: Vec<&Key> = keys
        .iter()
        .filter(|k| k.alg == alg && k.state == state)
        .collect();
    assert_eq!(found.len(), 1, "one {alg} key {state}: {keys:#?}");
    found[0]
}

// ---------------------------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn clients_create_prints_the_secret_once_and_show_never_prints_it() {
    let idp = Idp::new();
    let created = idp
        .run(&[
            "clients",
            "create",
            "rp1",
            "--name",
            "Application RP",
            "--redirect-uri",
            "https://rp.example/callback",
        ])
        .ok();
    assert!(
        created.stdout.contains("client rp1 enregistré"),
        "{created:#?}"
    );
    let secret = secret_after(&created.stdout, SECRET_LINE);
    assert!(secret.len() >= 43, "{secret}");
    assert_eq!(created.stdout.matches(&secret).count(), 1);
    assert!(
        !created.stderr.contains(&secret),
        "the secret is not logged"
    );
    assert_eq!(
        idp.secret_hash("rp1").await.as_deref(),
        Some(secrets::hash(&secret).as_str()),
        "only its hash is stored"
    );

    let show = idp.run(&["clients", "show", "rp1"]).ok();
    assert!(!show.stdout.contains(&secret), "{show:#?}");
    assert!(!show.stdout.contains(&secrets::hash(&secret)), "{show:#?}");
    assert!(!show.stdout.contains("secret_hash"), "{show:#?}");
    let shown: Value = serde_json::from_str(&show.stdout).expect("JSON");
    assert_eq!(shown["client_id"], "rp1");
    assert_eq!(shown["name"], "Application RP");
    assert_eq!(shown["auth_method"], "client_secret_basic");
    assert_eq!(
        shown["redirect_uris"],
        serde_json::json!(["https://rp.example/callback"])
    );

    let list = idp.run(&["clients", "list"]).ok();
    assert!(list.stdout.contains("rp1"), "{list:#?}");
    assert!(!list.stdout.contains(&secret));

    // The id is taken.
    idp.run(&[
        "clients",
        "create",
        "rp1",
        "--redirect-uri",
        "https://rp.example/callback",
    ])
    .refused("existe déjà");

    // A public client has no secret to print.
    let public = idp
        .run(&[
            "clients",
            "create",
            "spa",
            "--auth-method",
            "none",
            "--redirect-uri",
            "https://spa.example/callback",
        ])
        .ok();
    assert!(!public.stdout.contains("secret"), "{public:#?}");
    assert_eq!(idp.secret_hash("spa").await, None);
}

#[tokio::test]
async fn an_invalid_redirect_uri_is_refused_in_french_and_nothing_is_stored() {
    let idp = Idp::new();
    for uri in [
        "http://evil.example/callback",
        "https://rp.example/callback#fragment",
        "not a uri",
    ] {
        let run = idp
            .run(&["clients", "create", "bad", "--redirect-uri", uri])
            .refused("URI de redirection invalide");
        assert!(run.stderr.contains(uri), "the URI is named: {run:#?}");
        assert!(!run.stdout.contains("secret"), "{run:#?}");
    }
    let list = idp.run(&["clients", "list"]).ok();
    assert_eq!(list.stdout.trim(), "", "nothing stored: {list:#?}");
    idp.run(&["clients", "show", "bad"]).refused("introuvable");
}

#[tokio::test]
async fn clients_update_changes_only_the_given_fields() {
    let idp = Idp::new();
    let created = idp
        .run(&[
            "clients",
            "create",
            "rp1",
            "--name",
            "Ancien nom",
            "--redirect-uri",
            "https://rp.example/a",
            "--redirect-uri",
            "https://rp.example/b",
            "--post-logout-redirect-uri",
            "https://rp.example/bye",
            "--scope",
            "openid",
            "--scope",
            "email",
            "--alg",
            "ES256",
            "--skip-consent",
            "true",
        ])
        .ok();
    let secret = secret_after(&created.stdout, SECRET_LINE);
    let before = idp.show("rp1");

    idp.run(&["clients", "update", "rp1", "--name", "Nouveau nom"])
        .ok();
    let after = idp.show("rp1");
    assert_eq!(after["name"], "Nouveau nom");
    let mut expected = before.clone();
    expected["name"] = "Nouveau nom".into();
    assert_eq!(after, expected, "only the name changed");
    assert_eq!(
        idp.secret_hash("rp1").await.as_deref(),
        Some(secrets::hash(&secret).as_str()),
        "the secret is kept"
    );

    idp.run(&[
        "clients",
        "update",
        "rp1",
        "--redirect-uri",
        "https://rp.example/c",
    ])
    .ok();
    let after = idp.show("rp1");
    expected["redirect_uris"] = serde_json::json!(["https://rp.example/c"]);
    assert_eq!(after, expected, "only the redirect URIs changed");

    // An invalid update changes nothing.
    idp.run(&[
        "clients",
        "update",
        "rp1",
        "--name",
        "Encore",
        "--redirect-uri",
        "ftp://rp.example/x",
    ])
    .refused("ftp://rp.example/x");
    assert_eq!(idp.show("rp1"), expected);

    idp.run(&["clients", "update", "nobody", "--name", "X"])
        .refused("introuvable");
}

#[tokio::test]
async fn clients_rotate_secret_replaces_the_secret() {
    let idp = Idp::new();
    let created = idp
        .run(&[
            "clients",
            "create",
            "rp1",
            "--redirect-uri",
            "https://rp.example/callback",
        ])
        .ok();
    let old = secret_after(&created.stdout, SECRET_LINE);

    let rotated = idp.run(&["clients", "rotate-secret", "rp1"]).ok();
    let new = secret_after(
        &rotated.stdout,
        "nouveau secret (affiché une seule fois) : ",
    );
    assert_ne!(old, new);
    assert_eq!(
        idp.secret_hash("rp1").await.as_deref(),
        Some(secrets::hash(&new).as_str())
    );
    let show = idp.run(&["clients", "show", "rp1"]).ok();
    assert!(!show.stdout.contains(&new));

    idp.run(&[
        "clients",
        "create",
        "spa",
        "--auth-method",
        "none",
        "--redirect-uri",
        "https://spa.example/callback",
    ])
    .ok();
    idp.run(&["clients", "rotate-secret", "spa"])
        .refused("introuvable");
    assert_eq!(idp.secret_hash("spa").await, None);
    idp.run(&["clients", "rotate-secret", "nobody"])
        .refused("introuvable");
}

#[tokio::test]
async fn clients_delete_removes_the_client() {
    let idp = Idp::new();
    idp.run(&[
        "clients",
        "create",
        "rp1",
        "--redirect-uri",
        "https://rp.example/callback",
    ])
    .ok();
    idp.run(&[
        "clients",
        "create",
        "rp2",
        "--redirect-uri",
        "https://rp.example/callback",
    ])
    .ok();

    let deleted = idp.run(&["clients", "delete", "rp1"]).ok();
    assert!(deleted.stdout.contains("rp1"), "{deleted:#?}");
    idp.run(&["clients", "show", "rp1"]).refused("introuvable");
    idp.run(&["clients", "delete", "rp1"])
        .refused("introuvable");
    let list = idp.run(&["clients", "list"]).ok();
    assert!(!list.stdout.contains("rp1"), "{list:#?}");
    assert!(list.stdout.contains("rp2"), "the other client stays");
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn keys_list_shows_an_active_rs256_and_es256_key_after_the_first_start() {
    let idp = Idp::new();
    let keys = idp.keys();
    assert_eq!(keys.len(), 2, "{keys:#?}");
    only(&keys, "RS256", "active");
    only(&keys, "ES256", "active");
    assert!(
        idp.dir.path().join("keys").join("kek.key").exists(),
        "the key-encryption key was created"
    );
    // A second start keeps the same keys.
    assert_eq!(idp.keys(), keys);
}

#[tokio::test]
async fn keys_rotate_adds_a_pending_key_of_the_given_algorithm() {
    let idp = Idp::new();
    let first = idp.keys();
    let rotated = idp.run(&["keys", "rotate", "--alg", "ES256"]).ok();
    assert!(rotated.stdout.contains("ES256"), "{rotated:#?}");

    let keys = idp.keys();
    assert_eq!(keys.len(), 3, "{keys:#?}");
    let pending = only(&keys, "ES256", "pending");
    assert!(rotated.stdout.contains(&pending.kid), "{rotated:#?}");
    assert_eq!(
        only(&keys, "ES256", "active"),
        only(&first, "ES256", "active")
    );
    assert_eq!(
        only(&keys, "RS256", "active"),
        only(&first, "RS256", "active")
    );
    assert_eq!(count(&keys, "RS256", "pending"), 0);

    // A second rotation while one is pending is refused.
    idp.run(&["keys", "rotate", "--alg", "ES256"])
        .refused(&pending.kid);
    assert_eq!(idp.keys().len(), 3);
}

#[tokio::test]
async fn keys_retire_of_the_only_signer_is_refused_with_what_to_do() {
    let idp = Idp::new();
    let keys = idp.keys();
    let rs256 = only(&keys, "RS256", "active").kid.clone();
    idp.run(&["keys", "retire", &rs256])
        .refused("lancez d'abord « idp keys rotate »");
    assert_eq!(idp.keys(), keys, "nothing changed");
    idp.run(&["keys", "retire", "no-such-kid"])
        .refused("no-such-kid");
}

#[tokio::test]
async fn keys_revoke_removes_the_key_and_makes_a_replacement() {
    let idp = Idp::new();
    let keys = idp.keys();
    let rs256 = only(&keys, "RS256", "active").kid.clone();
    let es256 = only(&keys, "ES256", "active").clone();

    let revoked = idp.run(&["keys", "revoke", &rs256]).ok();
    assert!(revoked.stdout.contains("révoquée"), "{revoked:#?}");
    assert!(
        revoked.stdout.contains("clé de remplacement"),
        "{revoked:#?}"
    );

    let keys = idp.keys();
    assert_eq!(keys.len(), 3, "{keys:#?}");
    let old = keys.iter().find(|k| k.kid == rs256).expect("still listed");
    assert_eq!(old.state, "revoked");
    let replacement = only(&keys, "RS256", "active");
    assert_ne!(replacement.kid, rs256);
    assert!(revoked.stdout.contains(&replacement.kid), "{revoked:#?}");
    assert_eq!(only(&keys, "ES256", "active"), &es256);

    idp.run(&["keys", "revoke", &rs256]).refused(&rs256);
}

// ---------------------------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------------------------

impl Idp {
    /// How many audit events name `action`.
    async fn events(&self, action: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE action = $1")
            .bind(action)
            .fetch_one(&self.db().await.pool)
            .await
            .expect("count")
    }
}

#[tokio::test]
async fn services_commands_save_with_one_event_each_and_refuse_with_the_reason() {
    let idp = Idp::new();
    idp.run(&["services", "create", "vae", "--label", "VAE"])
        .ok();
    idp.run(&["services", "create", "Pas Bon", "--label", "X"])
        .refused("code invalide « Pas Bon »");
    idp.run(&["services", "create", "vae2", "--label", " "])
        .refused("ne peut pas être vide");
    idp.run(&[
        "services",
        "create",
        "vae3",
        "--label",
        "V",
        "--home-url",
        "pas une url",
    ])
    .refused("pas une url");
    assert_eq!(
        idp.events("service.saved").await,
        1,
        "refusals record nothing"
    );

    idp.run(&["services", "add-role", "vae", "jury", "--label", "Jury"])
        .ok();
    idp.run(&["services", "add-role", "inconnu", "jury", "--label", "Jury"])
        .refused("introuvable : service inconnu");
    assert_eq!(idp.events("service.role_saved").await, 1);

    idp.run(&["services", "link-client", "vae", "nobody"])
        .refused("introuvable : client nobody");
    idp.run(&[
        "clients",
        "create",
        "rp-vae",
        "--redirect-uri",
        "https://rp.example/cb",
    ])
    .ok();
    idp.run(&["services", "link-client", "vae", "rp-vae"]).ok();
    assert_eq!(idp.events("service.client_linked").await, 1);
    let shown = idp.run(&["services", "show", "vae"]).ok();
    assert!(shown.stdout.contains("client : rp-vae"), "{shown:#?}");

    let text = idp.dir.path().join("charte.txt");
    std::fs::write(&text, "Premier paragraphe.\n\nSecond.").expect("write");
    let file = text.to_str().expect("utf-8 path");
    let published = idp
        .run(&[
            "services", "publish", "vae", "--kind", "charte", "--title", "Charte", "--file", file,
        ])
        .ok();
    assert!(
        published.stdout.contains("version 1 publiée"),
        "{published:#?}"
    );
    idp.run(&[
        "services", "publish", "vae", "--kind", "cgu", "--title", " ", "--file", file,
    ])
    .refused("ne peuvent pas être vides");
    assert_eq!(idp.events("service.document_published").await, 1);
}

// ---------------------------------------------------------------------------------------------
// Users and configuration
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn users_create_refuses_a_weak_password_with_the_rule() {
    let idp = Idp::new();
    let create = |password: &str| {
        idp.run_with(
            &["users", "create", "--email", "alice@centre.fr"],
            &[("IDP_NEW_USER_PASSWORD", password)],
        )
    };
    create("court").refused("Le mot de passe doit comporter au moins 12 caractères.");
    create("toutenminuscules")
        .refused("Le mot de passe doit contenir au moins 3 des 4 types de caractères");
    idp.run(&["users", "create", "--email", "alice@centre.fr"])
        .refused("IDP_NEW_USER_PASSWORD");

    // Nothing was stored: the address is still free.
    let created = create("Motdepasse-solide-42").ok();
    assert!(created.stdout.contains("compte créé"), "{created:#?}");
    create("Motdepasse-solide-42").refused("existe déjà");
}

#[tokio::test]
async fn an_invalid_configuration_stops_the_command() {
    let idp = Idp::new();
    let run = idp
        .run_with(&["clients", "list"], &[("IDP_ISSUER", "not a url")])
        .refused("configuration invalide");
    assert!(run.stderr.contains("not a url"), "{run:#?}");
    idp.run_with(
        &["clients", "list"],
        &[("IDP_TOKENS__CODE_TTL_SECONDS", "600")],
    )
    .refused("configuration invalide");
    let run = idp
        .run_with(&["clients", "list"], &[("IDP_NO_SUCH_SETTING", "1")])
        .refused("configuration");
    assert!(run.stderr.contains("no_such_setting"), "{run:#?}");
    assert!(
        !idp.dir.path().join("idp.db").exists(),
        "nothing was opened"
    );
}

#[tokio::test]
async fn config_check_prints_the_configuration_without_its_secrets_and_its_warnings() {
    let idp = Idp::new();
    let run = idp
        .run_with(
            &["config", "check"],
            &[
                (
                    "IDP_KEYS__KEK",
                    "c2VjcmV0LWRlLWxhLWNsZS1kZS1jaGlmZnJlbWVudA==",
                ),
                ("IDP_MAIL__SMTP_PASSWORD", "mot-de-passe-du-relais"),
                ("IDP_SESSION__SECURE_COOKIES", "false"),
                ("IDP_PROXY__TRUSTED", "[\"10.1.0.0/16\", \"192.0.2.7\"]"),
            ],
        )
        .ok();
    for secret in [
        "c2VjcmV0LWRlLWxhLWNsZS1kZS1jaGlmZnJlbWVudA==",
        "mot-de-passe-du-relais",
    ] {
        assert!(!run.stdout.contains(secret), "{run:#?}");
        assert!(!run.stderr.contains(secret), "{run:#?}");
    }
    assert!(
        run.stdout.contains("smtp_password = \"<masqué>\""),
        "{run:#?}"
    );
    // A bare address is a network of one.
    assert!(run.stdout.contains("\"192.0.2.7/32\""), "{run:#?}");
    assert!(
        run.stdout
            .contains("session.secure_cookies = false : cookies sans Secure")
    );
    assert!(run.stdout.contains("# erreurs : aucune"), "{run:#?}");
    assert!(
        !idp.dir.path().join("idp.db").exists(),
        "nothing was opened"
    );
}

#[tokio::test]
async fn config_check_lists_every_error_in_french_and_exits_with_2() {
    let idp = Idp::new();
    let run = idp
        .run_with(
            &["config", "check"],
            &[
                ("IDP_TOKENS__ACCESS_TOKEN_TTL_SECONDS", "0"),
                ("IDP_LIMITS__LOGIN_PER_IP", "0"),
                ("IDP_MAIL__OUTBOX_VIEWER", "true"),
                ("IDP_ISSUER", "https://connexion.efp.example.fr"),
            ],
        )
        .refused("tokens.access_token_ttl_seconds = 0 : attendu entre 1 et 86400");
    assert!(
        run.stderr
            .contains("limits.login_per_ip = 0 : attendu entre 1 et")
    );
    assert!(run.stderr.contains("mail.outbox_viewer = true est refusé"));
    assert!(run.stdout.contains("# erreurs : 3"), "{run:#?}");
    idp.run_with(
        &["config", "check"],
        &[("IDP_PROXY__TRUSTED", "[\"proxy.interne\"]")],
    )
    .refused("n'est ni une adresse IP ni un réseau CIDR");
}

#[tokio::test]
async fn the_outbox_viewer_with_an_issuer_the_network_reaches_stops_the_start() {
    let idp = Idp::new();
    idp.run_with(
        &["serve"],
        &[
            ("IDP_MAIL__OUTBOX_VIEWER", "true"),
            ("IDP_ISSUER", "https://connexion.efp.example.fr"),
        ],
    )
    .refused(
        "mail.outbox_viewer = true est refusé avec l'émetteur « https://connexion.efp.example.fr »",
    );
    assert!(
        !idp.dir.path().join("idp.db").exists(),
        "nothing was opened"
    );
}
