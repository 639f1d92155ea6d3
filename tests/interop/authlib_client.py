"""Interoperability: the Python relying-party library Authlib (with requests) against the
provider. Run by tests/tests/interop.rs, once per ID token algorithm; every step checks a real
result, so any disagreement between the library and the provider fails the run (exit 1).

Authlib's OAuth2Session does the OAuth part (PKCE, state, token exchange, refresh,
revocation, introspection, bearer calls); its OpenID Connect claims class (CodeIDToken, over
joserfc's JWS verification with the provider's JWKS) validates the ID token. The person's
login is plain HTTP form posts: a requests.Session plays the browser.

Environment: ISSUER, CLIENT_ID, CLIENT_SECRET (client_secret_basic), ID_TOKEN_ALG (RS256 or
ES256), CALLBACK_PORT (http://127.0.0.1:<port>/cb and /logged-out are registered: nothing
needs to listen there, the browser stops at the redirect), USER_EMAIL, USER_PASSWORD.
"""

import os
import sys
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import authlib
import requests
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

ISSUER = os.environ["ISSUER"]
CLIENT_ID = os.environ["CLIENT_ID"]
CLIENT_SECRET = os.environ["CLIENT_SECRET"]
ID_TOKEN_ALG = os.environ["ID_TOKEN_ALG"]
PORT = int(os.environ["CALLBACK_PORT"])
USER_EMAIL = os.environ["USER_EMAIL"]
USER_PASSWORD = os.environ["USER_PASSWORD"]
REDIRECT_URI = f"http://127.0.0.1:{PORT}/cb"
POST_LOGOUT_URI = f"http://127.0.0.1:{PORT}/logged-out"

STARTED = time.monotonic()


def log(message):
    print(f"[{time.monotonic() - STARTED:.1f} s] {message}", flush=True)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


class Forms(HTMLParser):
    """The forms of a page: action, method and every named input (hidden ones with values)."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            action, method = attrs.get("action") or "", attrs.get("method") or "get"
            self.forms.append({"action": action, "method": method, "fields": {}})
        elif tag == "input" and self.forms and attrs.get("name"):
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""


def follow(browser, url):
    """GETs `url` and follows redirects while they stay on the provider; returns the final
    response and the URL it answered, or (None, location) once sent to the relying party."""
    for _ in range(10):
        response = browser.get(url, allow_redirects=False)
        if response.is_redirect:
            url = urljoin(url, response.headers["location"])
            if not url.startswith(ISSUER):
                return None, url
            continue
        return response, url
    raise AssertionError(f"too many redirects from {url}")


def login(browser, authorization_url):
    """The person's side of the authorization request: the login form, by HTTP form posts.
    Returns the URL the provider finally sends the browser to (the callback)."""
    page, at = follow(browser, authorization_url)
    check(page is not None and urlsplit(at).path.startswith("/connexion"), f"login page, got {at}")
    parser = Forms()
    parser.feed(page.text)
    form = next((f for f in parser.forms if "password" in f["fields"]), None)
    check(form is not None and form["method"].lower() == "post", "a login form posted")
    check(form["fields"].get("csrf"), "the login form has a csrf field")
    fields = dict(form["fields"], email=USER_EMAIL, password=USER_PASSWORD)
    answer = browser.post(urljoin(at, form["action"]), data=fields, allow_redirects=False)
    check(answer.is_redirect, f"login accepted, got {answer.status_code}: {answer.text[:500]}")
    target = urljoin(at, answer.headers["location"])
    if not target.startswith(ISSUER):
        return target
    page, out = follow(browser, target)
    check(page is None, f"back to the relying party, got {out} ({page and page.status_code})")
    return out


def decode(id_token, jwks):
    """The JWS checked against the provider's JWKS, with the client's registered alg only."""
    return jwt.decode(
        id_token, KeySet.import_key_set(jwks), registry=JWSRegistry(algorithms=[ID_TOKEN_ALG])
    )


def verify_id_token(id_token, jwks, nonce, access_token):
    """Authlib's OpenID Connect validation: signature (JWKS, the registered alg only), then
    iss, aud, azp, exp, iat, nonce and at_hash (CodeIDToken)."""
    token = decode(id_token, jwks)
    claims = CodeIDToken(
        token.claims,
        token.header,
        {
            "iss": {"essential": True, "value": ISSUER},
            "aud": {"essential": True, "value": CLIENT_ID},
        },
        {"nonce": nonce, "client_id": CLIENT_ID, "access_token": access_token},
    )
    claims.validate(leeway=30)
    return claims


def expect_failure(what, action):
    try:
        action()
    except Exception as error:  # the library's own error type varies by check
        return error
    raise AssertionError(f"{what} was accepted")


def main():
    log(f"authlib {authlib.__version__}, requests {requests.__version__}")

    # 1. Discovery.
    metadata = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=10).json()
    check(metadata["issuer"] == ISSUER, f"issuer {metadata['issuer']}")
    check("S256" in metadata["code_challenge_methods_supported"], "PKCE S256 advertised")
    check(ID_TOKEN_ALG in metadata["id_token_signing_alg_values_supported"], "alg advertised")
    jwks = requests.get(metadata["jwks_uri"], timeout=10).json()
    log(f"discovery: {ISSUER}, {len(jwks['keys'])} keys in the JWKS")

    oauth = OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope="openid email profile offline_access",
        redirect_uri=REDIRECT_URI,
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
        code_challenge_method="S256",
    )

    # 2. Authorization code + PKCE; the login by form posts.
    code_verifier = generate_token(48)
    nonce = generate_token(20)
    authorization_url, state = oauth.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    sent = parse_qs(urlsplit(authorization_url).query)
    check(sent.get("code_challenge_method") == ["S256"] and sent.get("code_challenge"), "PKCE")
    browser = requests.Session()
    callback = login(browser, authorization_url)
    check(callback.startswith(REDIRECT_URI + "?"), f"callback {callback}")
    answer = parse_qs(urlsplit(callback).query)
    check(answer.get("iss") == [ISSUER], f"iss in the callback (RFC 9207): {callback}")
    log("login by form posts: back at the callback with a code")

    # 3. Token exchange (state checked by authlib, PKCE verifier sent), ID token validated.
    expect_failure(
        "a callback with another state",
        lambda: OAuth2Session(CLIENT_ID, CLIENT_SECRET, state="autre").fetch_token(
            metadata["token_endpoint"], authorization_response=callback
        ),
    )
    token = oauth.fetch_token(
        metadata["token_endpoint"],
        authorization_response=callback,
        code_verifier=code_verifier,
        state=state,
    )
    check(token.get("token_type", "").lower() == "bearer", f"token_type {token.get('token_type')}")
    check(token.get("refresh_token"), "a refresh token")
    claims = verify_id_token(token["id_token"], jwks, nonce, token["access_token"])
    check(claims.header["alg"] == ID_TOKEN_ALG, f"alg {claims.header['alg']}")
    # The same validation refuses a wrong nonce and a tampered signature.
    access = token["access_token"]
    expect_failure(
        "a wrong nonce", lambda: verify_id_token(token["id_token"], jwks, "autre", access)
    )
    head, body, signature = token["id_token"].split(".")
    tampered = f"{head}.{body}.{('A' if signature[0] != 'A' else 'B')}{signature[1:]}"
    expect_failure(
        "a tampered signature", lambda: verify_id_token(tampered, jwks, nonce, access)
    )
    header = claims.header
    log(f"tokens: ID token {header['alg']} kid {header.get('kid')}, sub {claims['sub']}")

    # 4. UserInfo through the session's bearer token.
    userinfo = oauth.get(metadata["userinfo_endpoint"]).json()
    check(userinfo.get("sub") == claims["sub"], f"userinfo sub {userinfo.get('sub')}")
    check(userinfo.get("email") == USER_EMAIL, f"userinfo email {userinfo.get('email')}")
    log(f"userinfo: {userinfo['email']}")

    # 5. Introspection.
    def introspect(value, hint=None):
        response = oauth.introspect_token(
            metadata["introspection_endpoint"], token=value, token_type_hint=hint
        )
        check(response.status_code == 200, f"introspection {response.status_code}: {response.text}")
        return response.json()

    first_access = token["access_token"]
    info = introspect(first_access, "access_token")
    check(info.get("active") is True, f"access token active: {info}")
    check(info.get("sub") == claims["sub"], f"introspection sub: {info}")
    check(info.get("client_id") == CLIENT_ID, f"introspection client_id: {info}")
    # RFC 7662 §2.1: with a wrong token_type_hint the server "MUST extend its search across all
    # of its supported token types".
    info = introspect(first_access, "refresh_token")
    check(info.get("active") is True, f"access token found despite a wrong hint: {info}")

    # 6. Refresh: new access and refresh tokens (rotation).
    refreshed = oauth.refresh_token(
        metadata["token_endpoint"], refresh_token=token["refresh_token"]
    )
    check(refreshed["access_token"] != first_access, "a new access token")
    check(refreshed.get("refresh_token"), "a rotated refresh token")
    check(refreshed["refresh_token"] != token["refresh_token"], "a new refresh token")
    if refreshed.get("id_token"):
        # OpenID Connect Core §12.2: same iss, sub, aud; auth_time still the original login's.
        again = decode(refreshed["id_token"], jwks).claims
        for name in ("iss", "sub", "aud", "auth_time"):
            check(again.get(name) == claims.get(name), f"refreshed ID token {name}: {again}")
    userinfo = oauth.get(metadata["userinfo_endpoint"]).json()
    check(userinfo.get("sub") == claims["sub"], f"userinfo with the new token: {userinfo}")
    info = introspect(refreshed["refresh_token"], "refresh_token")
    check(info.get("active") is True, f"refresh token active: {info}")
    renewed = " and ID token" if refreshed.get("id_token") else ""
    log(f"refresh: new tokens{renewed}, userinfo still answers")

    # 7. Revocation: access token, then refresh token (the grant).
    def revoke(value, hint):
        response = oauth.revoke_token(
            metadata["revocation_endpoint"], token=value, token_type_hint=hint
        )
        check(response.status_code == 200, f"revocation {response.status_code}: {response.text}")

    access, refresh = refreshed["access_token"], refreshed["refresh_token"]
    revoke(access, "access_token")
    check(introspect(access).get("active") is False, "revoked access token inactive")
    status = oauth.get(metadata["userinfo_endpoint"]).status_code
    check(status == 401, f"userinfo refuses the revoked token, got {status}")
    revoke(refresh, "refresh_token")
    check(introspect(refresh, "refresh_token").get("active") is False, "revoked refresh inactive")
    error = expect_failure(
        "refreshing with a revoked refresh token",
        lambda: oauth.refresh_token(metadata["token_endpoint"], refresh_token=refresh),
    )
    check(getattr(error, "error", None) == "invalid_grant", f"invalid_grant, got {error!r}")
    # The provider revokes the whole grant with its refresh token: the first access token too.
    check(introspect(first_access).get("active") is False, "the grant's first access token")
    log("revocation: access and refresh tokens inactive, refused")

    # 8. RP-initiated logout: the browser's session ends, it is sent back with the state.
    logout_state = generate_token(20)
    logout_url = add_params_to_uri(
        metadata["end_session_endpoint"],
        {
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": POST_LOGOUT_URI,
            "state": logout_state,
        },
    )
    page, out = follow(browser, logout_url)
    expected = f"{POST_LOGOUT_URI}?state={logout_state}"
    check(page is None and out == expected, f"post-logout redirect: {out}")
    page, at = follow(browser, authorization_url)
    check(page is not None and urlsplit(at).path.startswith("/connexion"), f"login again, got {at}")
    log("end session: redirected with state, the provider asks to log in again")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:
        import traceback

        traceback.print_exc()
        print(f"FAILED: {error!r}", file=sys.stderr)
        sys.exit(1)
    log(f"authlib {ID_TOKEN_ALG}: all checks passed")
