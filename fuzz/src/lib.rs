//! Bodies of the fuzz targets: each feeds arbitrary bytes to the provider's real parsing code
//! (never a copy of it) and checks cheap properties (a value that parses re-parses to itself).
//! The libFuzzer binaries in `fuzz_targets/` and the replay test in `tests/replay.rs` both call
//! these functions, so a crash found by the fuzzer stays a plain `cargo test` afterwards.
//!
//! Every function must return normally for any input: a panic is a finding.

use std::sync::OnceLock;

use base64::Engine;
use idp::{
    access::{ActivationCode, EndDate},
    accounts::{
        Email, Password,
        signup::{identity::parse_identity, organization::parse_job, password::parse_new_password},
    },
    keys::keyset::{self, KeySet, SigningAlg, SigningKey},
    oidc::{
        claims::{ClaimsRequest, restrict},
        client_auth::parse_form,
        clients::AuthMethod,
    },
    organizations::{Query, Siren, Siret, import::Columns},
    web::{cookies, csrf},
};

mod http;

pub use http::{http_authorize, http_logout, http_token};

/// The issuer every token of these targets is checked against.
pub const ISSUER: &str = "https://idp.fuzz.example";

/// Key id of [`fixed_signer`]'s key.
pub const FIXED_KID: &str = "fuzz-es256";

/// A fixed P-256 key (PKCS#8, base64), so committed seeds can carry tokens that verify.
/// Made for the fuzz targets only; it signs nothing anywhere else.
const FIXED_EC_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgexCCtl+2RUDizXQ8NhwEKZXuOldRzHJlPztHgOYJSwOhRANCAARRyqI1ygbLUt0UG3Io+e1EtZeEh010B1Oj/+M/uUck/YeWB8pNRdCyMfQIjVPEZ/qCsEBqMN+Gp4rpcSq2Tcuk";

/// The public JWK of [`FIXED_EC_PKCS8`].
pub fn fixed_public_jwk() -> serde_json::Value {
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "x": "UcqiNcoGy1LdFBtyKPntRLWXhIdNdAdTo__jP7lHJP0",
        "y": "h5YHyk1F0LIx9AiNU8Rn-oKwQGow34aniulxKrZNy6Q",
        "kid": FIXED_KID,
        "alg": "ES256",
        "use": "sig",
    })
}

/// The signer of [`FIXED_EC_PKCS8`], to make seeds.
pub fn fixed_signer() -> SigningKey {
    let der = base64::engine::general_purpose::STANDARD
        .decode(FIXED_EC_PKCS8)
        .expect("fixed key is base64");
    SigningKey::from_pkcs8(FIXED_KID, SigningAlg::ES256, &der).expect("fixed key is P-256")
}

/// Inputs arrive as form fields and headers, which are text: invalid UTF-8 is replaced
/// rather than dropped so no execution is wasted.
fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `Siret::parse`, `Siren::parse` and the register search `Query::parse`.
pub fn siret(data: &[u8]) {
    let input = text(data);
    if let Ok(siret) = Siret::parse(&input) {
        let again = Siret::parse(siret.as_str()).expect("a parsed SIRET re-parses");
        assert_eq!(again.as_str(), siret.as_str());
        assert_eq!(siret.as_str().len(), 14);
        let siren = siret.siren();
        assert!(siret.as_str().starts_with(siren.as_str()));
        assert_eq!(siret.to_string(), siret.as_str());
    }
    if let Ok(siren) = Siren::parse(&input) {
        let again = Siren::parse(siren.as_str()).expect("a parsed SIREN re-parses");
        assert_eq!(again.as_str(), siren.as_str());
        assert_eq!(siren.as_str().len(), 9);
    }
    let _ = Query::parse(&input);
}

/// `ActivationCode::parse`: what a person types to redeem a code.
pub fn activation_code(data: &[u8]) {
    let input = text(data);
    if let Ok(code) = ActivationCode::parse(&input) {
        let again = ActivationCode::parse(code.as_str()).expect("a parsed code re-parses");
        assert_eq!(again.as_str(), code.as_str());
        assert_eq!(code.as_str().len(), 12);
    }
}

/// `EndDate::parse` against a fixed today, and `EndDate::from_stored`.
pub fn end_date(data: &[u8]) {
    let input = text(data);
    let today = jiff::civil::date(2026, 1, 15);
    if let Ok(end) = EndDate::parse(&input, today) {
        let iso = end.iso();
        assert_eq!(EndDate::parse(&iso, today), Ok(end), "ISO form re-parses");
        assert_eq!(EndDate::from_stored(&iso), Some(end));
        assert!(end.covers(today));
        let _ = end.french();
    }
    let _ = EndDate::from_stored(&input);
}

/// Account form fields: e-mail, password, new password, civilité/nom/prénom, job title.
/// Lines of the input go to the fields in that order.
pub fn account_fields(data: &[u8]) {
    let input = text(data);
    let mut lines = input.split('\n');
    let first = lines.next().unwrap_or_default();
    let email = Email::parse(first);
    if let Ok(email) = &email {
        let again = Email::parse(email.as_str()).expect("a parsed e-mail re-parses");
        assert_eq!(&again, email);
    }
    let _ = Email::parse(&input);
    let second = lines.next().unwrap_or_default();
    if let Ok(password) = Password::parse(second) {
        assert_eq!(password.expose(), second);
    }
    let _ = Password::parse(&input);
    if let Ok(email) = &email {
        // The names typed at step 4 (the next lines but the civilité) are refused in it too.
        let mut ahead = lines.clone().skip(1);
        let names = [
            ahead.next().unwrap_or_default(),
            ahead.next().unwrap_or_default(),
        ];
        let _ = parse_new_password(second, email, &names);
    }
    let civilite = lines.next().unwrap_or_default();
    let nom = lines.next().unwrap_or_default();
    let prenom = lines.next().unwrap_or_default();
    let _ = parse_identity(civilite, nom, prenom);
    let _ = parse_job(lines.next().unwrap_or_default());
    let _ = parse_job(&input);
}

/// The `claims` request parameter: `ClaimsRequest::parse`, then `restrict` as the
/// authorization endpoint does; what `restrict` keeps must parse again.
pub fn claims_request(data: &[u8]) {
    let input = text(data);
    if ClaimsRequest::parse(&input).is_ok() {
        let scopes = ["openid", "email", "profile"].map(String::from);
        let (restricted, implied) = restrict(&input, &scopes);
        ClaimsRequest::parse(&restricted).expect("a restricted claims request re-parses");
        assert!(implied.iter().all(|s| scopes.contains(s)));
    }
}

/// The token endpoint's form body (`parse_form`, also used by revocation and introspection),
/// and the client authentication method names.
pub fn token_form(data: &[u8]) {
    if let Ok(form) = parse_form(data) {
        if let Some(method) = form.get("token_endpoint_auth_method") {
            if let Some(m) = AuthMethod::parse(method) {
                assert_eq!(m.as_str(), method);
            }
        }
    }
}

/// `Cookie` headers: `cookies::get` (the session id, CSRF and reset cookies), `csrf::token`
/// and `csrf::verify`. Each line of the input is one `Cookie` header; the first line is also
/// the submitted CSRF field.
pub fn cookies(data: &[u8]) {
    let mut headers = axum::http::HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = axum::http::HeaderValue::from_bytes(line) {
            headers.append(axum::http::header::COOKIE, value);
        }
    }
    let submitted = text(data.split(|b| *b == b'\n').next().unwrap_or_default());
    for secure in [true, false] {
        for name in [cookies::SESSION, cookies::CSRF, cookies::RESET] {
            if let Some(value) = cookies::get(&headers, name, secure) {
                assert!(!value.contains(';'), "a cookie value stops at ';'");
            }
        }
        let key = csrf::CsrfKey::from_bytes(&[7; 32]);
        let token = csrf::token_with(&key, &headers, secure);
        assert_eq!(token.value.len(), 43);
        if token.set_cookie.is_none() {
            // The browser's own value was kept: its token is the one a POST must carry.
            assert!(csrf::verify_with(&key, &headers, &token.value, secure));
        }
        let _ = csrf::verify_with(&key, &headers, &submitted, secure);
    }
}

/// The key set the JWT targets verify against: the fixed ES256 key and an RS256 key.
fn keyset() -> &'static KeySet {
    static SET: OnceLock<KeySet> = OnceLock::new();
    SET.get_or_init(|| {
        let rsa = keyset::generate(SigningAlg::RS256, 2048).expect("RSA key");
        KeySet::new(
            vec![fixed_public_jwk(), rsa.public_jwk],
            vec![fixed_signer()],
        )
    })
}

/// Claims of an `id_token_hint` as RP-initiated logout reads them.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct HintClaims {
    aud: Audience,
    #[serde(default)]
    azp: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
#[allow(dead_code)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// `KeySet::verify`, the check of every token of ours that comes back (`id_token_hint`,
/// access and refresh tokens): header, `kid` lookup, signature, issuer, expiry, claims.
pub fn jwt(data: &[u8]) {
    let token = text(data);
    let set = keyset();
    for check_exp in [true, false] {
        if let Ok(claims) = set.verify::<serde_json::Value>(&token, ISSUER, check_exp) {
            assert_eq!(claims["iss"], ISSUER, "a verified token is ours");
        }
    }
    let _ = set.verify::<HintClaims>(&token, ISSUER, false);
}

/// The SIRENE CSV import's reader: the header line locates the columns
/// (`Columns::locate`), every following line goes through `Columns::establishment`, with
/// the reader settings of `idp sirene import`.
pub fn sirene_csv(data: &[u8]) {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let Ok(header) = rdr.headers() else {
        return;
    };
    let Ok(columns) = Columns::locate(std::path::Path::new("fuzz.csv"), header) else {
        return;
    };
    let mut record = csv::StringRecord::new();
    while let Ok(true) = rdr.read_record(&mut record) {
        if let Ok(establishment) = columns.establishment(&record) {
            let siret = establishment.siret.as_str();
            assert_eq!(
                Siret::parse(siret)
                    .expect("imported SIRET is valid")
                    .as_str(),
                siret
            );
        }
    }
}
