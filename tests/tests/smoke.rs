use idp_tests::*;

#[tokio::test]
async fn a_user_logs_in_and_the_client_gets_a_code() {
    let app = TestApp::spawn().await;
    let client = app.client("rp").await;
    app.user("alice@centre.fr").await;
    let out = app
        .browser()
        .authorize(&auth_url(&app, &client, &[]), "alice@centre.fr")
        .await;
    let q = query_of(&out);
    assert!(out.starts_with(REDIRECT_URI), "{out}");
    assert_eq!(q["state"], "etat-123");
    assert_eq!(q["iss"], app.issuer);
    let response = exchange_code(&app, &client, &q["code"], &[]).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["id_token"].is_string(), "{body}");
}
