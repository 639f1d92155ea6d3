"""Our provider (`idp serve`, release build) prepared for load: clients, an account, a session.

Imported by bench/run.py. Standard library + requests. Every account, client and key is created
through the `idp` command and the HTTP endpoints a relying party uses: nothing is written into
the database behind the provider's back.
"""

import base64
import os
import re
import secrets
import subprocess
import time
import urllib.parse

import requests

from peer import CODE_CHALLENGE, CODE_VERIFIER, REDIRECT_URI  # the same client parameters

PASSWORD = "Bench-password-2026!"
EMAIL = "bench@bench.test"
TIMEOUT = 10


class Ours:
    """One `idp serve` node on `backend` ("embedded" or "postgres")."""

    def __init__(self, binary, backend, port, workdir, database_url=None, redis_url=None):
        self.bin, self.backend, self.port, self.work = binary, backend, port, workdir
        self.base = f"http://127.0.0.1:{port}"
        self.proc = None
        self.secrets = {}
        self.env = dict(
            os.environ,
            IDP_ISSUER=self.base,
            IDP_LISTEN=f"127.0.0.1:{port}",
            IDP_KEYS__KEK=base64.b64encode(secrets.token_bytes(32)).decode(),
            IDP_KEYS__DIR=os.path.join(workdir, "keys"),
            IDP_SESSION__SECURE_COOKIES="false",  # plain http on loopback
            # The login bench measures the hashing capacity, not the limiter: one address, one
            # account, thousands of attempts. The limits themselves are probed across nodes by
            # tests/cluster/probe.py.
            IDP_LIMITS__LOGIN_PER_ACCOUNT="100000000",
            IDP_LIMITS__LOGIN_PER_IP="100000000",
            # Tries are counted per account and address before the password is checked (a right
            # one starts again from none): eight connections sending at once reach the free
            # tries and the delays that follow them.
            IDP_LIMITS__LOGIN_FREE_FAILURES="100000000",
            IDP_LIMITS__LOGIN_FAILURES_PER_ACCOUNT="100000000",
            # The anti-robot check costs the server one HMAC and one SHA-256 per login (the
            # proof of work is the browser's); a load generator cannot solve it.
            IDP_ANTI_ROBOT__ENABLED="false",
            IDP_MAIL__TRANSPORT="outbox",
            IDP_MAIL__OUTBOX_DIR=os.path.join(workdir, "outbox"),
            IDP_LOG="warn",
            IDP_LOG_FORMAT="json",
        )
        self.env.pop("IDP_CONFIG", None)
        if backend == "embedded":
            self.env["IDP_DATABASE_URL"] = f"sqlite://{workdir}/idp.db?mode=rwc"
            self.env.pop("IDP_REDIS_URL", None)
        else:
            self.env["IDP_DATABASE_URL"] = database_url
            self.env["IDP_REDIS_URL"] = redis_url
            self.env["IDP_REDIS_KEY_PREFIX"] = f"bench-{secrets.token_hex(4)}:"

    def idp(self, *args, extra_env=None):
        env = dict(self.env, **(extra_env or {}))
        r = subprocess.run([self.bin, *args], env=env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"idp {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def prepare(self):
        """Migrates, registers one client per algorithm and one account."""
        self.idp("migrate")
        for alg in ("RS256", "ES256"):
            out = self.idp(
                "clients", "create", client_id(alg), "--name", f"Bench {alg}",
                "--redirect-uri", REDIRECT_URI,
                "--grant-type", "authorization_code", "--grant-type", "refresh_token",
                "--grant-type", "client_credentials",
                "--scope", "openid", "--scope", "email", "--scope", "profile",
                "--scope", "codes:issue", "--alg", alg, "--skip-consent", "true",
            )
            self.secrets[alg] = re.search(r"secret \(affiché une seule fois\) : (\S+)", out).group(1)
        self.idp("users", "create", "--email", EMAIL, "--given-name", "Banc",
                 "--family-name", "Essai", extra_env={"IDP_NEW_USER_PASSWORD": PASSWORD})

    def start(self, log_path, prefix=()):
        """Starts `idp serve` under `prefix` (e.g. `taskset -c 0`), waits until it is ready."""
        self.proc = subprocess.Popen([*prefix, self.bin, "serve"], env=self.env,
                                     stdout=open(log_path, "a"), stderr=subprocess.STDOUT)
        t0 = time.time()
        while time.time() - t0 < 60:
            if self.proc.poll() is not None:
                raise RuntimeError(f"idp serve exited with {self.proc.returncode} (see {log_path})")
            try:
                if requests.get(self.base + "/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("idp serve not ready after 60 s")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self, alg):
        return client_id(alg), self.secrets[alg]

    def authorize_query(self, alg):
        return "/authorize?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": client_id(alg), "redirect_uri": REDIRECT_URI,
            "scope": "openid email profile", "state": "bench-state", "nonce": "bench-nonce",
            "code_challenge": CODE_CHALLENGE, "code_challenge_method": "S256",
        })

    def login_form(self):
        """The login page's CSRF pair, as one browser holds it: (cookie value, form token). The
        token is bound to the cookie (web/csrf.rs), so every bench connection sends both."""
        page = requests.get(self.base + "/connexion", timeout=TIMEOUT)
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        return page.cookies["idp_csrf"], token

    def login_session(self, alg="RS256"):
        """Logs in once through /authorize; returns the Cookie header that gives a code at once."""
        http = requests.Session()
        r = http.get(self.base + self.authorize_query(alg), allow_redirects=False, timeout=TIMEOUT)
        page = http.get(self.base + r.headers["Location"], timeout=TIMEOUT)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        authreq = re.search(r'name="authreq" value="([^"]*)"', page.text).group(1)
        r = http.post(self.base + "/connexion", allow_redirects=False, timeout=TIMEOUT,
                      data={"csrf": csrf, "authreq": authreq, "email": EMAIL, "password": PASSWORD})
        if r.status_code == 200 and 'action="/cgu/accepter"' in r.text:
            # An account made by the command line has not accepted the terms of use yet: it
            # does at its first login, as a person would (later logins go straight on).
            form = dict(re.findall(r'name="(csrf|step)" value="([^"]+)"', r.text))
            r = http.post(self.base + "/cgu/accepter", allow_redirects=False, timeout=TIMEOUT,
                          data={**form, "accepte": "oui"})
        if "Location" not in r.headers:
            raise RuntimeError(f"login did not go on: {r.status_code} {r.text[:300]}")
        r = http.get(self.base + r.headers["Location"], allow_redirects=False, timeout=TIMEOUT)
        if not r.headers.get("Location", "").startswith(REDIRECT_URI):
            raise RuntimeError(f"login gave no code: {r.status_code} {r.headers.get('Location')}")
        cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
        # The session alone must now give a code (what the load generator repeats).
        r = requests.get(self.base + self.authorize_query(alg), headers={"Cookie": cookie},
                         allow_redirects=False, timeout=TIMEOUT)
        if "code=" not in r.headers.get("Location", ""):
            raise RuntimeError(f"the session gave no code: {r.status_code} {r.headers}")
        return cookie

    def code_flow_tokens(self, alg, cookie):
        r = requests.get(self.base + self.authorize_query(alg), headers={"Cookie": cookie},
                         allow_redirects=False, timeout=TIMEOUT)
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["Location"]).query)["code"][0]
        r = requests.post(self.base + "/token", auth=self.client(alg), timeout=TIMEOUT, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": CODE_VERIFIER})
        r.raise_for_status()
        return r.json()

    def client_credentials_token(self, alg):
        r = requests.post(self.base + "/token", auth=self.client(alg), timeout=TIMEOUT,
                          data={"grant_type": "client_credentials"})
        r.raise_for_status()
        return r.json()["access_token"]

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


def client_id(alg):
    return f"bench-{alg.lower()}"
