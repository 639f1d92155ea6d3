//! Moving an installation to another engine (`idp db copy`): every row carried, counts checked,
//! a non-empty target refused, and a node started on the copy serves the same accounts and keys.
//! On the PostgreSQL run the copy goes PostgreSQL → SQLite → a new PostgreSQL database (the move
//! an embedded installation makes when it grows); on the embedded run, SQLite → SQLite.

use idp_tests::*;

/// The rows of every table of the database at `url`, by table.
async fn counts(url: &str) -> Vec<(&'static str, i64)> {
    let db = idp::store::Db::connect(url).await.expect("connect");
    idp::store::copy::counts(&db).await.expect("counts")
}

/// `idp db copy` from `from` to `to`, asserted to succeed.
async fn copied(app: &TestApp, from: &str, to: &str) {
    let (status, out, err) = app.cli(&["db", "copy", "--from", from, "--to", to]).await;
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.contains("comptes vérifiés"), "{out}");
}

/// Alice, logged in through the client `rp`: the client and her tokens.
async fn alice_logged_in(app: &TestApp) -> (TestClient, serde_json::Value) {
    app.user("alice@example.fr").await;
    let rp = app.client("rp").await;
    let tokens = app
        .browser()
        .tokens(app, &rp, &auth_url(app, &rp, &[]), "alice@example.fr")
        .await;
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    (rp, tokens)
}

/// A new, empty PostgreSQL database beside the one `admin` names: the admin pool, its name, its
/// URL.
async fn new_database(admin: &str) -> (idp::store::Db, String, String) {
    let name = format!("idp_copy_{}", uuid::Uuid::new_v4().simple());
    let admin_db = idp::store::Db::connect(admin).await.expect("admin");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin_db.pool)
        .await
        .expect("create");
    let url = format!("{}/{name}", admin.rsplit_once('/').expect("a database").0);
    (admin_db, name, url)
}

async fn drop_database(admin_db: &idp::store::Db, name: &str) {
    let drop_it = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let _ = sqlx::query(sqlx::AssertSqlSafe(drop_it))
        .execute(&admin_db.pool)
        .await;
}

#[tokio::test]
async fn a_copy_carries_every_row_and_a_node_on_it_serves_the_same_accounts() {
    let app = TestApp::spawn().await;
    let (rp, tokens) = alice_logged_in(&app).await;
    let source = app.state.config.database_url.clone();
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("copie.db").display()
    );

    copied(&app, &source, &sqlite).await;
    let before = counts(&source).await;
    assert_eq!(counts(&sqlite).await, before);
    assert!(before.iter().any(|(t, n)| *t == "audit_events" && *n > 0));

    // Into a target that holds data already: refused, nothing written.
    let (status, _, err) = app
        .cli(&["db", "copy", "--from", &source, "--to", &sqlite])
        .await;
    assert_eq!(status, 2);
    assert!(err.contains("n'est pas vide"), "{err}");
    assert_eq!(counts(&sqlite).await, before);

    // The move an embedded installation makes: SQLite → a new PostgreSQL database.
    let mut last = sqlite.clone();
    let created = match Backend::from_env().postgres_admin {
        Some(admin) => {
            let (admin_db, name, url) = new_database(&admin).await;
            copied(&app, &sqlite, &url).await;
            assert_eq!(counts(&url).await, before);
            last = url;
            Some((admin_db, name))
        }
        None => None,
    };

    // A node on the copy: the same account logs in, the same keys sign, the refresh token holds.
    let node = app
        .another_node_with(|c| c.database_url = last.clone())
        .await;
    let refreshed = refresh(&node, &rp, &string(&tokens, "refresh_token")).await;
    assert_eq!(refreshed.0, 200, "{}", refreshed.1);
    let response = node
        .browser()
        .submit_login("/connexion", "alice@example.fr", PASSWORD)
        .await;
    assert_eq!(response.status(), 303);
    drop(node);
    if let Some((admin_db, name)) = created {
        drop_database(&admin_db, &name).await;
    }
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_into_a_node_that_serves_the_same_accounts() {
    let app = TestApp::spawn().await;
    let (rp, tokens) = alice_logged_in(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let source = app.state.config.database_url.clone();
    let (restored, created) = match Backend::from_env().postgres_admin {
        // pg_dump in the custom format, restored with pg_restore into a new database.
        Some(admin) => {
            let dump = dir.path().join("idp.dump");
            let out = std::process::Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--file"])
                .arg(&dump)
                .arg(&source)
                .output()
                .expect("pg_dump");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let (admin_db, name, url) = new_database(&admin).await;
            let out = std::process::Command::new("pg_restore")
                .args(["--no-owner", "--exit-on-error", "--dbname"])
                .arg(&url)
                .arg(&dump)
                .output()
                .expect("pg_restore");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            (url, Some((admin_db, name)))
        }
        // SQLite's online backup (`VACUUM INTO`): consistent while the node writes.
        None => {
            let path = dir.path().join("sauvegarde.db");
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "VACUUM INTO '{}'",
                path.display()
            )))
            .execute(&app.state.db.pool)
            .await
            .expect("online backup");
            (format!("sqlite://{}", path.display()), None)
        }
    };
    assert_eq!(counts(&restored).await, counts(&source).await);
    // With the same KEK (kept beside the backup), a node on the restored database serves.
    let node = app
        .another_node_with(|c| c.database_url = restored.clone())
        .await;
    let refreshed = refresh(&node, &rp, &string(&tokens, "refresh_token")).await;
    assert_eq!(refreshed.0, 200, "{}", refreshed.1);
    drop(node);
    if let Some((admin_db, name)) = created {
        drop_database(&admin_db, &name).await;
    }
}
