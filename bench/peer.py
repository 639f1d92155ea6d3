"""Peer OpenID provider (npm ``oidc-provider``) for the load benchmark.

bench/run.py imports this module to install and start the peer
(bench/peer/server.mjs) and to prepare what the load generator replays:
a logged-in session cookie for ``/auth``, client_credentials JWT access
tokens, opaque access tokens for introspection/userinfo, refresh tokens.

Run it directly for a self-check: ``python3 bench/peer.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

PEER_DIR = Path(__file__).resolve().parent / "peer"

# client_id and secret per signing algorithm; must match bench/peer/server.mjs.
CLIENTS = {
    "RS256": ("bench-rs256", "bench-secret-rs256-0123456789abcdef"),
    "ES256": ("bench-es256", "bench-secret-es256-0123456789abcdef"),
}
# Nothing listens on port 9 (discard): the redirect is read from the Location
# header and never followed.
REDIRECT_URI = "http://127.0.0.1:9/callback"
# A fixed verifier: the load generator replays the same /auth request, and the
# code it gets back is redeemed with this verifier. 43+ chars per RFC 7636.
CODE_VERIFIER = "bench-pkce-verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
CODE_CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(CODE_VERIFIER.encode("ascii")).digest())
    .rstrip(b"=")
    .decode("ascii")
)
SCOPE = "openid email profile"
READY_TIMEOUT = 30.0
HTTP_TIMEOUT = 10.0


# --- installation and process ------------------------------------------------


def ensure_installed() -> None:
    """Install the pinned packages when node_modules is missing or stale.

    npm writes node_modules/.package-lock.json on every install, so it being
    older than package-lock.json means the lock changed since.
    """
    lock = PEER_DIR / "package-lock.json"
    installed = PEER_DIR / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"],
        cwd=PEER_DIR,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(port: int, log_path, prefix=()) -> subprocess.Popen:
    """Start the peer on 127.0.0.1:port, logging to log_path; wait for `ready`.

    stdout and stderr both go to the log (the server silences itself after
    start-up); readiness is detected by polling the log for the `ready` line,
    so no pipe has to be drained while the benchmark runs. `prefix` goes before the
    command (`taskset -c 0`: the CPUs the peer may use, as ours).
    """
    ensure_installed()
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PEER_PORT=str(port))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*prefix, "node", "server.mjs"],
            cwd=PEER_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if re.search(rb"^ready$", log_path.read_bytes(), re.MULTILINE):
            return proc
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        reason = f"not ready within {READY_TIMEOUT:.0f} s"
    else:
        reason = f"exited with code {proc.returncode}"
    raise RuntimeError(f"peer oidc-provider {reason}; log tail ({log_path}):\n{_tail(log_path)}")


# --- requests the load generator replays ---------------------------------------


def authorize_query(client_id: str) -> str:
    """Path and query of the /auth request the load generator sends repeatedly."""
    return "/auth?" + urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "scope": SCOPE,
            "redirect_uri": REDIRECT_URI,
            "state": "bench-state",
            "nonce": "bench-nonce",
            "code_challenge": CODE_CHALLENGE,
            "code_challenge_method": "S256",
        }
    )


def endpoints(base: str) -> dict:
    """Endpoint paths (no scheme/host) read from discovery."""
    discovery_path = "/.well-known/openid-configuration"
    r = requests.get(base + discovery_path, timeout=HTTP_TIMEOUT)
    r.raise_for_status()
    meta = r.json()
    path = lambda key: urlsplit(meta[key]).path  # noqa: E731
    return {
        "discovery_path": discovery_path,
        "jwks_path": path("jwks_uri"),
        "token_path": path("token_endpoint"),
        "introspection_path": path("introspection_endpoint"),
        "userinfo_path": path("userinfo_endpoint"),
        "authorization_path": path("authorization_endpoint"),
    }


def _code_from(response: requests.Response) -> str:
    """The code of an /auth response that must redirect straight to REDIRECT_URI."""
    location = response.headers.get("Location", "")
    if response.status_code not in (302, 303) or not location.startswith(REDIRECT_URI + "?"):
        raise RuntimeError(
            f"/auth did not redirect to the client: {response.status_code} Location={location!r}"
        )
    query = parse_qs(urlsplit(location).query)
    if "error" in query:
        raise RuntimeError(f"/auth answered an error: {query}")
    if query.get("state") != ["bench-state"] or not query.get("code"):
        raise RuntimeError(f"/auth redirect lacks code/state: {location!r}")
    return query["code"][0]


def _login(session: requests.Session, base: str, client_id: str, account: str) -> str:
    """Log in through the peer's interaction; returns the code of that first flow."""
    r = session.get(base + authorize_query(client_id), allow_redirects=False, timeout=HTTP_TIMEOUT)
    location = r.headers.get("Location", "")
    if r.status_code not in (302, 303) or "/interaction/" not in location:
        raise RuntimeError(f"/auth did not start an interaction: {r.status_code} {location!r}")
    interaction = urlsplit(requests.compat.urljoin(base, location)).path
    r = session.get(base + interaction, timeout=HTTP_TIMEOUT)
    r.raise_for_status()
    # The form post finishes login and consent; following redirects resumes
    # /auth, which must end at the client's redirect_uri (not followed).
    r = session.post(
        base + interaction + "/login",
        data={"account": account},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    while r.status_code in (302, 303) and not r.headers["Location"].startswith(REDIRECT_URI):
        r = session.get(
            requests.compat.urljoin(base, r.headers["Location"]),
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
        )
    return _code_from(r)


def _redeem(base: str, alg: str, code: str) -> dict:
    r = requests.post(
        base + "/token",
        auth=CLIENTS[alg],
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": CODE_VERIFIER,
        },
        timeout=HTTP_TIMEOUT,
    )
    if r.status_code != 200:
        raise RuntimeError(f"code exchange failed: {r.status_code} {r.text}")
    tokens = r.json()
    missing = {"access_token", "id_token", "refresh_token"} - tokens.keys()
    if missing:
        raise RuntimeError(f"token response lacks {sorted(missing)}: {tokens}")
    return tokens


def cookie_header(session: requests.Session) -> str:
    """Cookie header for /auth: the session cookies (path /) and their signatures.

    The jar also holds spent interaction cookies scoped to /interaction/<uid>
    and /auth/<uid>; a browser would not send them to /auth, neither do we.
    """
    return "; ".join(
        f"{c.name}={c.value}" for c in session.cookies if "/auth".startswith(c.path or "/")
    )


def login_session(base: str, account: str = "bench") -> str:
    """Log in once; returns the Cookie header that makes /auth answer with a code.

    The grant made at login covers the client it was made for; the session
    cookie is then checked with a cookie-only GET for every client, and a code
    is redeemed once, so the returned cookie is known to work end to end.

    Every code redeemed under this cookie adds its tokens to the session's one
    Grant, and oidc-provider's in-memory adapter rescans that grant's member
    list on each token save: token issuance slows down as a single session is
    replayed (measured: ~5 ms -> ~10 ms per /auth+token after 12,500 codes).
    Long runs should call this again now and then for a fresh session.
    """
    session = requests.Session()
    for alg, (client_id, _) in CLIENTS.items():
        # One login covers the session; each further client only needs its own
        # consent, which the same interaction grants without a second login.
        _login(session, base, client_id, account)
    cookie = cookie_header(session)
    # Check with the bare Cookie header, exactly as the load generator sends it.
    for alg, (client_id, _) in CLIENTS.items():
        r = requests.get(
            base + authorize_query(client_id),
            headers={"Cookie": cookie},
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
        )
        # Redeem each such code once to prove the whole flow (PKCE included).
        _redeem(base, alg, _code_from(r))
    return cookie


def code_flow_tokens(base: str, alg: str) -> dict:
    """A complete authorization code flow (login, consent, code, token) for alg's client."""
    session = requests.Session()
    code = _login(session, base, CLIENTS[alg][0], "bench")
    return _redeem(base, alg, code)


def _jwt_header(token: str) -> dict:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def client_credentials_token(base: str, alg: str) -> str:
    """A client_credentials access token: a JWT signed with the client's alg."""
    r = requests.post(
        base + "/token",
        auth=CLIENTS[alg],
        data={"grant_type": "client_credentials"},
        timeout=HTTP_TIMEOUT,
    )
    if r.status_code != 200:
        raise RuntimeError(f"client_credentials failed: {r.status_code} {r.text}")
    token = r.json()["access_token"]
    if token.count(".") != 2 or _jwt_header(token).get("alg") != alg:
        raise RuntimeError(f"client_credentials token is not a {alg} JWT: {token[:40]}...")
    return token


def opaque_access_token(base: str, alg: str) -> str:
    """An access token that introspection reports active (from a code flow)."""
    token = code_flow_tokens(base, alg)["access_token"]
    if token.count(".") == 2:
        raise RuntimeError("code flow access token unexpectedly is a JWT")
    return token


# --- self-check --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _expect(response: requests.Response, what: str) -> dict:
    if response.status_code != 200:
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text}")
    return response.json()


def _self_check(base: str) -> list[str]:
    out = []
    eps = endpoints(base)
    out.append("endpoints: " + ", ".join(f"{k}={v}" for k, v in eps.items()))

    cookie = login_session(base)
    out.append(f"login_session: cookie names {[c.split('=')[0] for c in cookie.split('; ')]}, "
               "/auth with cookie -> code (both clients), code redeemed")

    for alg, (client_id, secret) in CLIENTS.items():
        tokens = code_flow_tokens(base, alg)
        id_alg = _jwt_header(tokens["id_token"])["alg"]
        if id_alg != alg:
            raise RuntimeError(f"{alg}: id_token signed with {id_alg}")

        cc = client_credentials_token(base, alg)
        opaque = opaque_access_token(base, alg)
        intro = _expect(
            requests.post(base + eps["introspection_path"], auth=(client_id, secret),
                          data={"token": opaque}, timeout=HTTP_TIMEOUT),
            f"{alg} introspection",
        )
        if intro.get("active") is not True:
            raise RuntimeError(f"{alg}: introspection says {intro}")
        info = _expect(
            requests.get(base + eps["userinfo_path"],
                         headers={"Authorization": f"Bearer {opaque}"}, timeout=HTTP_TIMEOUT),
            f"{alg} userinfo",
        )
        if not {"sub", "email", "given_name", "family_name"} <= info.keys():
            raise RuntimeError(f"{alg}: userinfo lacks claims: {info}")

        refresh = tokens["refresh_token"]
        for i in (1, 2):
            new = _expect(
                requests.post(base + eps["token_path"], auth=(client_id, secret),
                              data={"grant_type": "refresh_token", "refresh_token": refresh},
                              timeout=HTTP_TIMEOUT),
                f"{alg} refresh #{i}",
            )
            if new.get("refresh_token") in (None, refresh):
                raise RuntimeError(f"{alg}: refresh #{i} did not rotate the refresh token")
            refresh = new["refresh_token"]

        out.append(
            f"{alg}: code flow ok (id_token alg {id_alg}); client_credentials JWT alg "
            f"{_jwt_header(cc)['alg']} aud {_jwt_claims(cc).get('aud')}; introspection active; "
            f"userinfo 200 sub={info['sub']} email={info['email']}; refresh x2 rotated (200, 200)"
        )
    return out


def _jwt_claims(token: str) -> dict:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def main() -> int:
    port = _free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-peer-{port}.log"
    base = f"http://127.0.0.1:{port}"
    proc = None
    try:
        t0 = time.monotonic()
        proc = start(port, log_path)
        print(f"peer oidc-provider ready on {base} in {time.monotonic() - t0:.1f} s (log {log_path})")
        for line in _self_check(base):
            print(line)
    except Exception as exc:  # noqa: BLE001 - report any failure plainly
        print(f"SELF-CHECK FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    print("self-check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
