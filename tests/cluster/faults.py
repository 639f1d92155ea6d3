#!/usr/bin/env python3
"""Two `idp` nodes on one PostgreSQL database and one Redis, under load and faults.

Driven by scripts/cluster-faults.sh (which builds `idp`, creates and drops the database).
This program starts its own Redis and the two nodes, registers a client and accounts with the
`idp` command, runs N virtual users (login, code flow, userinfo, refresh, userinfo) spread over
both nodes, and injects in turn: SIGKILL + restart of node B, a restart of Redis (wiped),
`idp keys rotate`, SIGTERM of node A with requests in flight. It prints a table per phase and
exits 1 if any assertion failed (see docs/cluster.md).

The client plays the load balancer: the issuer names a virtual front address, every request goes
to one node's port (alternating), and a node is taken out of rotation when the driver kills or
stops it and put back when its /readyz answers 200 (what a load balancer's health check does).
Cookies are per host, not per port, so a browser session follows the user from node to node.

Standard library + requests + cryptography only (both already on the machine).
"""

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

PASSWORD = "Cluster-faults-2026!"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never served: the code is read from Location
SIRET = "82416506200194"
ROLE = "centre_agree"
TIMEOUT = 10

# ---------------------------------------------------------------------------------------------
# small helpers


def b64u_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def token_hash(token):
    """What the provider stores for a refresh token (secrets::hash): SHA-256, base64url, no pad."""
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def verify_id_token(token, jwks, issuer, audience):
    """RS256 verification with `cryptography`; returns (ok, reason)."""
    try:
        h64, p64, s64 = token.split(".")
        header = json.loads(b64u_decode(h64))
        payload = json.loads(b64u_decode(p64))
    except Exception as e:  # noqa: BLE001
        return False, f"malformed: {e}"
    if header.get("alg") != "RS256":
        return False, f"alg {header.get('alg')}"
    key = next((k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")), None)
    if key is None:
        return False, f"kid {header.get('kid')} not in JWKS"
    pub = rsa.RSAPublicNumbers(
        int.from_bytes(b64u_decode(key["e"]), "big"), int.from_bytes(b64u_decode(key["n"]), "big")
    ).public_key()
    try:
        pub.verify(b64u_decode(s64), f"{h64}.{p64}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # noqa: BLE001
        return False, "bad signature"
    if payload.get("iss") != issuer or payload.get("aud") not in (audience, [audience]):
        return False, "iss/aud"
    if payload.get("exp", 0) < time.time():
        return False, "expired"
    return True, ""


class JwksCache:
    """A relying party's JWKS cache: fetched through the load balancer, again on an unknown kid."""

    def __init__(self, cluster):
        self.c = cluster
        self.lock = threading.Lock()
        self.jwks = {"keys": []}
        self.fetches = 0

    def verify(self, token, node, audience):
        ok, why = verify_id_token(token, self.jwks, self.c.issuer, audience)
        if ok or "not in JWKS" not in why:
            return ok, why
        with self.lock:
            ok, why = verify_id_token(token, self.jwks, self.c.issuer, audience)
            if ok or "not in JWKS" not in why:
                return ok, why  # another user fetched it meanwhile
            via = self.c.pick() or node
            try:
                self.jwks = requests.get(self.c.base(via) + "/jwks", timeout=TIMEOUT).json()
                self.fetches += 1
            except requests.RequestException as e:
                return False, f"JWKS fetch from {via}: {classify(e)}"
        return verify_id_token(token, self.jwks, self.c.issuer, audience)


# ---------------------------------------------------------------------------------------------
# the cluster: Redis, nodes, the idp command


class Cluster:
    def __init__(self, args):
        self.bin = args.idp
        self.work = args.workdir
        self.db_url = args.database_url
        self.psql_db = args.psql_db
        self.redis_port = free_port()
        self.ports = {"A": free_port(), "B": free_port()}
        self.issuer = f"http://127.0.0.1:{free_port()}"  # the (virtual) load balancer
        self.procs = {}
        self.up = {"A": False, "B": False}  # in the load balancer's rotation
        self.lock = threading.Lock()
        self.rr = 0
        self.env = dict(
            os.environ,
            IDP_ISSUER=self.issuer,
            IDP_DATABASE_URL=self.db_url,
            IDP_REDIS_URL=f"redis://127.0.0.1:{self.redis_port}",
            IDP_REDIS_KEY_PREFIX="cluster:",
            IDP_KEYS__KEK=base64.b64encode(secrets.token_bytes(32)).decode(),
            IDP_KEYS__DIR=os.path.join(self.work, "keys"),
            IDP_KEYS__PREPUBLICATION_SECONDS="6",
            IDP_KEYS__REFRESH_INTERVAL_SECONDS="2",
            IDP_KEYS__RETENTION_MARGIN_SECONDS="600",
            IDP_ANTI_ROBOT__ENABLED="false",
            IDP_SESSION__SECURE_COOKIES="false",
            IDP_LIMITS__LOGIN_PER_ACCOUNT="1000000",
            IDP_LIMITS__LOGIN_PER_IP="1000000",
            IDP_MAIL__TRANSPORT="outbox",
            IDP_MAIL__OUTBOX_DIR=os.path.join(self.work, "outbox"),
            IDP_LOG="warn",
            IDP_LOG_FORMAT="json",
        )
        self.env.pop("IDP_CONFIG", None)
        self.jwks_cache = JwksCache(self)

    def base(self, node):
        return f"http://127.0.0.1:{self.ports[node]}"

    def pick(self):
        """Round robin over the nodes in rotation (None if none is)."""
        with self.lock:
            live = [n for n in ("A", "B") if self.up[n]]
            if not live:
                return None
            self.rr += 1
            return live[self.rr % len(live)]

    def _pidfile(self, name, pid):
        with open(os.path.join(self.work, f"{name}.pid"), "w") as f:
            f.write(str(pid))

    # Redis ------------------------------------------------------------------------------------
    def start_redis(self):
        p = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=open(os.path.join(self.work, "redis.log"), "a"), stderr=subprocess.STDOUT,
        )
        self.procs["redis"] = p
        self._pidfile("redis", p.pid)
        with open(os.path.join(self.work, "redis.port"), "w") as f:
            f.write(str(self.redis_port))
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.redis_port), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill_redis(self):
        p = self.procs.pop("redis")
        p.send_signal(signal.SIGKILL)
        p.wait()

    # the idp command ------------------------------------------------------------------------
    def idp(self, *args, extra_env=None):
        env = dict(self.env, **(extra_env or {}))
        r = subprocess.run([self.bin, *args], env=env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"idp {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def start_node(self, node):
        env = dict(self.env, IDP_LISTEN=f"127.0.0.1:{self.ports[node]}")
        p = subprocess.Popen([self.bin, "serve"], env=env,
                             stdout=open(os.path.join(self.work, f"node-{node}.log"), "a"),
                             stderr=subprocess.STDOUT)
        self.procs[node] = p
        self._pidfile(f"node-{node}", p.pid)
        t0 = time.time()
        while time.time() - t0 < 60:
            if p.poll() is not None:
                raise RuntimeError(f"node {node} exited with {p.returncode} (see node-{node}.log)")
            if self.readyz(node) == 200:
                with self.lock:
                    self.up[node] = True
                return time.time() - t0
            time.sleep(0.1)
        raise RuntimeError(f"node {node} not ready after 60 s")

    def readyz(self, node):
        try:
            return requests.get(self.base(node) + "/readyz", timeout=2).status_code
        except requests.RequestException:
            return None

    def take_out(self, node):
        with self.lock:
            self.up[node] = False

    def psql(self, sql):
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", self.psql_db,
                            "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql: {r.stderr.strip()}")
        return r.stdout.strip()

    def stop_all(self):
        for name, p in list(self.procs.items()):
            if p.poll() is None:
                p.kill()
                p.wait()


# ---------------------------------------------------------------------------------------------
# what happened: every request, phases, session losses, tokens


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.phase = "setup"
        self.requests = []  # (t, phase, node, endpoint, kind, latency_ms, detail)
        self.phases = []  # (name, start, end, is_fault)
        self.session_losses = []  # (t, phase, outcome)
        self.failures = []  # assertion failures
        self.refresh_hashes = set()  # every refresh token the provider handed out (200)
        self.kid_first_signed = {}
        self.marks = {}  # phase name → time of the fault's signal
        self.restored = {}  # phase name → time the faulty part was back

    def set_phase(self, name, fault):
        with self.lock:
            now = time.time()
            if self.phases:
                n, s, _, f = self.phases[-1]
                self.phases[-1] = (n, s, now, f)
            self.phases.append((name, now, None, fault))
            self.phase = name
        log(f"— phase {name}")

    def close(self):
        with self.lock:
            n, s, _, f = self.phases[-1]
            self.phases[-1] = (n, s, time.time(), f)

    def add(self, node, endpoint, kind, latency, detail="", phase=None):
        """One request, counted in the phase in which it was sent (`phase`, default: now)."""
        with self.lock:
            self.requests.append((time.time() - latency / 1000, phase or self.phase, node, endpoint,
                                  kind, latency, detail))

    def fail(self, msg):
        with self.lock:
            self.failures.append(msg)
        log(f"ÉCHEC : {msg}")


class Unexpected(Exception):
    """A request that did not give the expected answer (already recorded)."""


def classify(exc):
    s = repr(exc)
    if "Connection refused" in s or "ECONNREFUSED" in s or "Errno 111" in s:
        return "refused"
    if "reset" in s.lower() or "RemoteDisconnected" in s or "aborted" in s.lower():
        return "reset"
    if isinstance(exc, requests.Timeout):
        return "timeout"
    return "conn-error"


# ---------------------------------------------------------------------------------------------
# a virtual user


class VirtualUser(threading.Thread):
    def __init__(self, idx, cluster, rec, client_secret, stop):
        super().__init__(daemon=True)
        self.idx = idx
        self.email = f"vu{idx}@cluster.test"
        self.c = cluster
        self.rec = rec
        self.auth = ("cluster-rp", client_secret)
        self.stop = stop
        # Two browsers: a long-lived one that logs in once and then gets in by single sign-on
        # (its session is what a Redis wipe takes away), and a fresh one for every other round.
        self.sso_browser = requests.Session()
        self.sso_logged_in = False
        self.http = self.sso_browser
        self.refresh = None  # latest refresh token, None if unknown/uncertain
        self.tokens = []  # (access_token, id_token, issued_at) kept for the checkpoints
        self.iteration = 0
        self.sub = None

    # one request to one node, recorded
    def call(self, endpoint, method, path, expect, **kw):
        node = self.c.pick()
        if node is None:
            time.sleep(0.05)
            node = self.c.pick() or "A"
        phase = self.rec.phase
        t0 = time.perf_counter()
        try:
            r = self.http.request(method, self.c.base(node) + path, timeout=TIMEOUT,
                                  allow_redirects=False, **kw)
        except requests.RequestException as e:
            self.rec.add(node, endpoint, classify(e), (time.perf_counter() - t0) * 1000, repr(e)[:200], phase)
            raise Unexpected(endpoint) from e
        ms = (time.perf_counter() - t0) * 1000
        if r.status_code not in expect:
            kind = "5xx" if r.status_code >= 500 else f"http-{r.status_code}"
            title = re.search(r"<title>([^<]*)</title>", r.text)
            detail = title.group(1).strip() if title else " ".join(r.text.split())
            self.rec.add(node, endpoint, kind, ms, detail[:200], phase)
            raise Unexpected(endpoint)
        self.rec.add(node, endpoint, "ok", ms, "", phase)
        return node, r

    @staticmethod
    def rel(location):
        u = urllib.parse.urlsplit(location)
        return u.path + ("?" + u.query if u.query else "")

    def login_flow(self):
        """authorize → (login form → POST /connexion →) code. Returns the code."""
        state = secrets.token_urlsafe(8)
        q = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.auth[0], "redirect_uri": REDIRECT_URI,
            "scope": "openid email profile", "state": state, "nonce": secrets.token_urlsafe(8),
        })
        _, r = self.call("authorize", "GET", "/authorize?" + q, {302, 303})
        loc = r.headers["Location"]
        long_lived = self.http is self.sso_browser
        if loc.startswith("/connexion"):
            if long_lived and self.sso_logged_in:
                # The session the cookie names is gone: the user is asked to log in again.
                self.rec.session_losses.append((time.time(), self.rec.phase, self.email))
                self.sso_logged_in = False
            _, page = self.call("login-form", "GET", self.rel(loc), {200})
            m = re.search(r'name="csrf" value="([^"]+)"', page.text)
            a = re.search(r'name="authreq" value="([^"]*)"', page.text)
            if not m or not a or 'action="/connexion"' not in page.text:
                self.rec.add("-", "login-form", "no-form", 0)
                raise Unexpected("login form")
            _, r = self.call("login", "POST", "/connexion", {303, 302}, data={
                "csrf": m.group(1), "authreq": a.group(1), "email": self.email, "password": PASSWORD})
            if long_lived:
                self.sso_logged_in = True
            _, r = self.call("authorize-continue", "GET", self.rel(r.headers["Location"]), {302, 303})
            loc = r.headers["Location"]
        if not loc.startswith(REDIRECT_URI):
            self.rec.add("-", "authorize", "unexpected-redirect", 0, loc[:120])
            raise Unexpected("redirect")
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
        if params.get("state") != [state] or "code" not in params:
            self.rec.add("-", "authorize", "bad-callback", 0, loc[:120])
            raise Unexpected("callback")
        return params["code"][0]

    def take(self, body, node):
        ok, why = self.c.jwks_cache.verify(body["id_token"], node, self.auth[0])
        if not ok:
            self.rec.add(node, "id-token-verify", "id-token-rejected", 0, why)
            self.rec.fail(f"{self.email}: fresh ID token from node {node} does not verify: {why}")
        self.refresh = body["refresh_token"]
        with self.rec.lock:
            self.rec.refresh_hashes.add(token_hash(self.refresh))
            kid = json.loads(b64u_decode(body["id_token"].split(".")[0]))["kid"]
            self.rec.kid_first_signed.setdefault(kid, time.time())
        self.tokens.append((body["access_token"], body["id_token"], time.time()))
        self.tokens = self.tokens[-4:]

    def userinfo(self, access):
        _, r = self.call("userinfo", "GET", "/userinfo", {200},
                         headers={"Authorization": f"Bearer {access}"})
        sub = r.json().get("sub")
        if self.sub is None:
            self.sub = sub
        elif sub != self.sub:
            self.rec.fail(f"{self.email}: userinfo sub {sub} ≠ {self.sub}")

    def iterate(self):
        # Every other successful round in a fresh browser (the login form), else in the
        # long-lived one (single sign-on). A failed round is retried in the same kind of browser.
        if self.iteration % 2 == 0:
            self.http = requests.Session()
        else:
            self.http = self.sso_browser
        code = self.login_flow()
        node, r = self.call("token-code", "POST", "/token", {200}, auth=self.auth, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI})
        self.take(r.json(), node)
        self.userinfo(self.tokens[-1][0])
        token, self.refresh = self.refresh, None  # unknown until the answer comes back
        node, r = self.call("token-refresh", "POST", "/token", {200}, auth=self.auth, data={
            "grant_type": "refresh_token", "refresh_token": token})
        self.take(r.json(), node)
        self.userinfo(self.tokens[-1][0])
        self.iteration += 1

    def run(self):
        while not self.stop.is_set():
            try:
                self.iterate()
            except Unexpected:
                time.sleep(0.05)
            except Exception as e:  # noqa: BLE001 — a checker bug must not pass silently
                self.rec.add("-", "checker", "exception", 0, repr(e)[:200])
                time.sleep(0.1)


# ---------------------------------------------------------------------------------------------
# checkpoints


def jwks_of(c, node):
    return requests.get(c.base(node) + "/jwks", timeout=5).json()


def poll_jwks(c, rec, stop, first_published):
    """Records when each kid first appears in each node's JWKS."""
    while not stop.is_set():
        for node in ("A", "B"):
            try:
                for k in jwks_of(c, node).get("keys", []):
                    first_published.setdefault((node, k["kid"]), time.time())
            except Exception:  # noqa: BLE001 — a node may be down
                pass
        time.sleep(0.3)


def snapshot(c, rec, label):
    """What was committed before a fault: accounts, habilitations, refresh tokens handed out."""
    email = f"before-{label}@cluster.test"
    c.idp("users", "create", "--email", email, "--given-name", "Avant", "--family-name", label,
          extra_env={"IDP_NEW_USER_PASSWORD": PASSWORD})
    c.idp("habilitations", "grant", "--email", email, "--siret", SIRET, "--role", ROLE)
    # A grant nobody touches during the fault: its refresh token must refresh afterwards.
    parked = Browser(c, email, "cluster-rp").tokens(c.pick() or "A")
    with rec.lock:
        rec.refresh_hashes.add(token_hash(parked["refresh_token"]))
        hashes = set(rec.refresh_hashes)
    users = set(c.psql("SELECT id FROM users").split())
    habs = set(c.psql("SELECT id FROM habilitations").split())
    return {"label": label, "users": users, "habs": habs, "hashes": hashes, "parked": parked}


def check_durable(c, rec, snap):
    users = set(c.psql("SELECT id FROM users").split())
    habs = set(c.psql("SELECT id FROM habilitations").split())
    hashes = sorted(snap["hashes"])
    found = set()
    for i in range(0, len(hashes), 500):
        chunk = ",".join(f"'{h}'" for h in hashes[i:i + 500])
        found |= set(c.psql(f"SELECT token_hash FROM refresh_tokens WHERE token_hash IN ({chunk})").split())
    lost_u, lost_h, lost_r = snap["users"] - users, snap["habs"] - habs, set(hashes) - found
    # The parked refresh token refreshes on one node, its successor on the other.
    token, refreshed = snap["parked"]["refresh_token"], []
    for node in ("B", "A"):
        r = requests.post(c.base(node) + "/token", auth=("cluster-rp", c.client_secret), timeout=TIMEOUT,
                          data={"grant_type": "refresh_token", "refresh_token": token})
        refreshed.append(f"{node}:{r.status_code}")
        if r.status_code != 200:
            rec.fail(f"{snap['label']}: refresh token parked before the fault refused by node {node}: "
                     f"{r.status_code} {r.text[:120]}")
            break
        token = r.json()["refresh_token"]
        with rec.lock:
            rec.refresh_hashes.add(token_hash(token))
    log(f"  durable after {snap['label']}: {len(snap['users'])} accounts, {len(snap['habs'])} "
        f"habilitations, {len(hashes)} refresh tokens committed before → lost: "
        f"{len(lost_u)}/{len(lost_h)}/{len(lost_r)}; parked refresh token: {' '.join(refreshed)}")
    if lost_u or lost_h or lost_r:
        rec.fail(f"{snap['label']}: committed writes lost (accounts {len(lost_u)}, "
                 f"habilitations {len(lost_h)}, refresh tokens {len(lost_r)})")
    return {"accounts": len(snap["users"]), "habilitations": len(snap["habs"]),
            "refresh_tokens": len(hashes), "lost": len(lost_u) + len(lost_h) + len(lost_r),
            "parked_refresh": refreshed}


def check_tokens(c, rec, vus, label):
    """Every access token and ID token held by the users still works on both nodes."""
    jwks = {n: jwks_of(c, n) for n in ("A", "B")}
    checked = rejected = 0
    for vu in vus:
        for access, id_token, issued in list(vu.tokens):
            for node in ("A", "B"):
                checked += 1
                try:
                    r = requests.get(c.base(node) + "/userinfo", timeout=TIMEOUT,
                                     headers={"Authorization": f"Bearer {access}"})
                    ok_ui = r.status_code == 200
                    why = f"userinfo {r.status_code}"
                except requests.RequestException as e:
                    ok_ui, why = False, classify(e)
                ok_id, reason = verify_id_token(id_token, jwks[node], c.issuer, vu.auth[0])
                if not ok_ui or not ok_id:
                    rejected += 1
                    rec.fail(f"{label}: token of {vu.email} (issued {time.time() - issued:.0f} s ago) "
                             f"rejected by node {node}: {why if not ok_ui else ''} {reason}")
    log(f"  tokens after {label}: {checked} token×node checks, {rejected} rejected")
    return {"checked": checked, "rejected": rejected}


class Browser:
    """One person's browser, for the explicit session checks around the Redis wipe."""

    def __init__(self, c, email, client_id):
        self.c, self.email, self.client_id = c, email, client_id
        self.http = requests.Session()

    def authorize(self, node):
        q = urllib.parse.urlencode({"response_type": "code", "client_id": self.client_id,
                                    "redirect_uri": REDIRECT_URI, "scope": "openid",
                                    "state": "s", "nonce": "n"})
        return self.http.get(self.c.base(node) + "/authorize?" + q, allow_redirects=False,
                             timeout=TIMEOUT)

    def login(self, node):
        """authorize → login form → POST /connexion → code, all on `node`; None if no code came."""
        step = "authorize"
        try:
            r = self.authorize(node)
            step = "login form"
            page = self.http.get(self.c.base(node) + r.headers["Location"], timeout=TIMEOUT)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            authreq = re.search(r'name="authreq" value="([^"]*)"', page.text).group(1)
            step = "POST /connexion"
            r = self.http.post(self.c.base(node) + "/connexion", allow_redirects=False,
                               timeout=TIMEOUT, data={"csrf": csrf, "authreq": authreq,
                                                      "email": self.email, "password": PASSWORD})
            step = "authorize/continue"
            r = self.http.get(self.c.base(node) + r.headers["Location"], allow_redirects=False,
                              timeout=TIMEOUT)
        except (requests.RequestException, KeyError, AttributeError) as e:
            raise RuntimeError(f"login of {self.email} on node {node} failed at {step}: {e!r}") from e
        loc = r.headers.get("Location", "")
        if not loc.startswith(REDIRECT_URI):
            return None
        return urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)["code"][0]

    def tokens(self, node):
        """A fresh login and code exchange on `node`: the token response."""
        code = self.login(node)
        if code is None:
            raise RuntimeError(f"login of {self.email} on node {node} gave no code")
        r = requests.post(self.c.base(node) + "/token", auth=(self.client_id, self.c.client_secret),
                          data={"grant_type": "authorization_code", "code": code,
                                "redirect_uri": REDIRECT_URI}, timeout=TIMEOUT)
        r.raise_for_status()
        return r.json()

    def sso(self, node):
        """'sso' (code at once), 'login-page' (redirect to a 200 login form) or what else came."""
        r = self.authorize(node)
        loc = r.headers.get("Location", "")
        if r.status_code in (302, 303) and loc.startswith(REDIRECT_URI):
            return "sso"
        if r.status_code in (302, 303) and loc.startswith("/connexion"):
            page = self.http.get(self.c.base(node) + loc, timeout=TIMEOUT)
            if page.status_code == 200 and 'action="/connexion"' in page.text:
                return "login-page"
            return f"login-page-{page.status_code}"
        return f"{r.status_code} {loc[:60]}"


def poll_readyz(c, node, until, out):
    """Polls /readyz (2 s timeout, like a load balancer's check) until `until` is set."""
    while not until.is_set():
        t0 = time.time()
        try:
            st = requests.get(c.base(node) + "/readyz", timeout=2).status_code
        except requests.Timeout:
            st = "timeout"
        except requests.RequestException as e:
            st = classify(e)
        out.append((t0, st, round((time.time() - t0) * 1000)))
        time.sleep(0.1)


def wait_ready(c, node, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if c.readyz(node) == 200:
            return time.time() - t0
        time.sleep(0.1)
    return None


# ---------------------------------------------------------------------------------------------
# graceful shutdown: requests in flight when SIGTERM arrives


def raw_request(port, method, path, body=b"", headers=()):
    s = socket.create_connection(("127.0.0.1", port), 5)
    head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
            f"Content-Length: {len(body)}", *headers]
    s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return s


def read_status(s):
    data = b""
    s.settimeout(15)
    try:
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        while True:  # drain to the end: the whole answer must arrive
            chunk = s.recv(65536)
            if not chunk:
                break
    except ConnectionResetError:
        return "reset"
    except socket.timeout:
        return "timeout"
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.1 (\d{3})", data)
    return int(m.group(1)) if m else ("reset" if not data else "garbled")


def sigterm_in_flight(c, rec, n=24):
    """Opens n requests to node A (login submissions: argon2 keeps them busy), sends SIGTERM
    while they run, and checks that every one gets its whole answer."""
    port = c.ports["A"]
    # A real form: its token is bound to the browser cookie (and checked before the hash).
    page = requests.get(c.base("A") + "/connexion", timeout=TIMEOUT)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    cookie = f"Cookie: idp_csrf={page.cookies['idp_csrf']}"
    form = urllib.parse.urlencode({"csrf": csrf, "authreq": "", "email": "vu0@cluster.test",
                                   "password": PASSWORD}).encode()
    socks = []
    for i in range(n):
        # Half slow (a password hash each), half quick (JWKS), all sent before the signal.
        if i % 2 == 0:
            socks.append(("login", raw_request(port, "POST", "/connexion", form, (
                "Content-Type: application/x-www-form-urlencoded", cookie))))
        else:
            socks.append(("jwks", raw_request(port, "GET", "/jwks")))
    time.sleep(0.05)
    c.take_out("A")
    t_sig = rec.marks[rec.phase] = time.time()
    c.procs["A"].send_signal(signal.SIGTERM)
    results = [(kind, read_status(s)) for kind, s in socks]
    rc = c.procs["A"].wait(timeout=30)
    drained = time.time() - t_sig
    bad = [(k, st) for k, st in results if not isinstance(st, int) or st >= 500]
    for kind, st in results:
        rec.add("A", f"in-flight-{kind}", "ok" if isinstance(st, int) and st < 500 else str(st), 0)
    log(f"  SIGTERM with {n} requests in flight: answers {sorted(set(str(s) for _, s in results))}, "
        f"node exited {rc} after {drained * 1000:.0f} ms")
    if bad:
        rec.fail(f"SIGTERM: {len(bad)} of {n} in-flight requests did not complete: {bad[:5]}")
    if rc != 0:
        rec.fail(f"SIGTERM: node A exited with {rc}")
    return {"in_flight": n, "completed": n - len(bad), "exit": rc, "drain_ms": round(drained * 1000)}


# ---------------------------------------------------------------------------------------------
# report


def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def attribute(rec):
    """Counts a request in a fault phase when it was in flight at any time during that fault,
    else in the phase in which it was sent."""
    faults = [(n, st, en) for n, st, en, f in rec.phases if f]
    out = []
    for r in rec.requests:
        start, end = r[0], r[0] + r[5] / 1000
        hit = next((n for n, st, en in faults if start <= (en or 1e18) and end >= st), None)
        out.append((r[0], hit or r[1], *r[2:]))
    rec.requests = out


def report(rec):
    attribute(rec)
    print()
    print(f"{'phase':<22}{'fault':>6}{'secs':>6}{'requests':>10}{'A/B':>11}{'errors':>8}  "
          f"{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}  errors by kind (kind@endpoint/node)")
    rows = []
    for name, start, end, fault in rec.phases:
        reqs = [r for r in rec.requests if r[1] == name]
        errs = [r for r in reqs if r[4] != "ok"]
        kinds = {}
        for r in errs:
            key = f"{r[4]}@{r[3]}/{r[2]}"
            kinds[key] = kinds.get(key, 0) + 1
        lat = [r[5] for r in reqs if r[4] == "ok" and r[5] > 0]
        split = f"{sum(1 for r in reqs if r[2] == 'A')}/{sum(1 for r in reqs if r[2] == 'B')}"
        late = [r for r in errs if name in rec.restored and r[0] > rec.restored[name]]
        if late:
            rec.fail(f"{name}: {len(late)} errors on requests sent after the service was restored")
        rows.append({"phase": name, "fault": fault, "seconds": round((end or start) - start, 1),
                     "requests": len(reqs), "split_A_B": split, "errors": len(errs), "kinds": kinds,
                     "p50": round(pct(lat, 50), 1), "p99": round(pct(lat, 99), 1),
                     "max": round(max([r[5] for r in reqs] or [0]), 1)})
        print(f"{name:<22}{'yes' if fault else '':>6}{rows[-1]['seconds']:>6}{len(reqs):>10}{split:>11}{len(errs):>8}  "
              f"{rows[-1]['p50']:>8}{rows[-1]['p99']:>8}{rows[-1]['max']:>8.0f}  "
              + ", ".join(f"{k}×{v}" for k, v in sorted(kinds.items())))
    print()
    for name, start, _, fault in rec.phases:
        errs = [r for r in rec.requests if r[1] == name and r[4] != "ok"]
        if not errs:
            continue
        t_sig = rec.marks.get(name, start)
        print(f"{name}: errors (request start relative to the signal, node, endpoint, kind, latency):")
        for r in errs[:12]:
            print(f"   {r[0] - t_sig:+7.2f} s  {r[2]}  {r[3]:<19} {r[4]:<10} {r[5]:7.0f} ms  {r[6][:90]}")
    print()
    return rows


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--idp", required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--psql-db", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--users", type=int, default=8)
    ap.add_argument("--steady", type=float, default=10.0, help="seconds of each steady phase")
    args = ap.parse_args()

    started = time.time()
    c = Cluster(args)
    rec = Recorder()
    summary = {"phases": None, "checks": {}}
    stop = threading.Event()
    vus = []
    try:
        c.start_redis()
        c.idp("migrate")
        out = c.idp("clients", "create", "cluster-rp", "--name", "Cluster RP",
                    "--redirect-uri", REDIRECT_URI, "--skip-consent", "true")
        client_secret = c.client_secret = re.search(r"secret \(affiché une seule fois\) : (\S+)", out).group(1)
        for i in range(args.users):
            c.idp("users", "create", "--email", f"vu{i}@cluster.test", "--given-name", "Vu",
                  "--family-name", str(i), extra_env={"IDP_NEW_USER_PASSWORD": PASSWORD})
        c.idp("habilitations", "grant", "--email", "vu0@cluster.test", "--siret", SIRET, "--role", ROLE)
        for node in ("A", "B"):
            log(f"node {node} ready in {c.start_node(node):.1f} s on {c.base(node)}")
        log(f"issuer {c.issuer}, Redis on port {c.redis_port}, {args.users} virtual users")

        first_published = {}
        poller = threading.Thread(target=poll_jwks, args=(c, rec, stop, first_published), daemon=True)
        poller.start()
        vus = [VirtualUser(i, c, rec, client_secret, stop) for i in range(args.users)]
        rec.set_phase("steady-1", False)
        for vu in vus:
            vu.start()
        time.sleep(args.steady)

        # 1. SIGKILL node B, restart it ------------------------------------------------------
        snap = snapshot(c, rec, "kill-B")
        rec.set_phase("fault: SIGKILL B", True)
        c.take_out("B")  # the load balancer notices; requests already sent to B fail
        rec.marks[rec.phase] = time.time()
        c.procs["B"].send_signal(signal.SIGKILL)
        c.procs["B"].wait()
        time.sleep(1)
        log(f"  node B restarted, ready in {c.start_node('B'):.1f} s")
        rec.restored[rec.phase] = time.time()
        rec.set_phase("steady-2", False)
        summary["checks"]["kill-B"] = {"durable": check_durable(c, rec, snap),
                                       "tokens": check_tokens(c, rec, vus, "kill-B")}
        time.sleep(args.steady)

        # 2. restart Redis (wiped) ----------------------------------------------------------
        snap = snapshot(c, rec, "redis-restart")
        browser = Browser(c, "vu0@cluster.test", "cluster-rp")
        if browser.login("A") is None:
            rec.fail("redis-restart: the explicit browser could not log in")
        before = {n: browser.sso(n) for n in ("A", "B")}
        rec.set_phase("fault: Redis restart", True)
        polls = {"A": [], "B": []}
        polling = threading.Event()
        pollers = [threading.Thread(target=poll_readyz, args=(c, n, polling, polls[n]), daemon=True)
                   for n in ("A", "B")]
        t_down = rec.marks[rec.phase] = time.time()
        c.kill_redis()
        for t in pollers:
            t.start()
        # Redis stays down until both nodes said 503 (or 15 s).
        while time.time() - t_down < 15 and not all(any(p[1] == 503 for p in polls[n]) for n in polls):
            time.sleep(0.1)
        t_up = rec.restored[rec.phase] = time.time()
        c.start_redis()
        while time.time() - t_up < 20 and not all(
                any(p[1] == 200 and p[0] > t_up for p in polls[n]) for n in polls):
            time.sleep(0.1)
        polling.set()
        for t in pollers:
            t.join()
        readyz = {}
        for n, ps in polls.items():
            first503 = next((p for p in ps if p[1] == 503), None)
            back200 = next((p for p in ps if p[1] == 200 and p[0] > t_up), None)
            readyz[n] = {
                "down_answers": sorted({str(p[1]) for p in ps if p[0] < t_up}),
                "timeouts_while_down": sum(1 for p in ps if p[1] == "timeout"),
                "first_503_after_s": round(first503[0] + first503[2] / 1000 - t_down, 2) if first503 else None,
                "back_200_after_s": round(back200[0] + back200[2] / 1000 - t_up, 2) if back200 else None,
            }
        log(f"  Redis down {t_up - t_down:.1f} s, then restarted empty; /readyz: {readyz}")
        for n, r in readyz.items():
            if r["first_503_after_s"] is None:
                rec.fail(f"/readyz of node {n} never answered 503 while Redis was down: {r}")
            if r["back_200_after_s"] is None:
                rec.fail(f"/readyz of node {n} did not come back to 200 after Redis restarted: {r}")
            if r["timeouts_while_down"]:
                log(f"  NOTE: /readyz of node {n} hung past the 2 s check timeout "
                    f"{r['timeouts_while_down']} time(s) while Redis was down")
        summary["checks"]["readyz"] = readyz
        after = {n: browser.sso(n) for n in ("A", "B")}
        relogin = browser.login("B") is not None
        again = {n: browser.sso(n) for n in ("A", "B")}
        log(f"  browser session: before wipe {before}, after {after}, logs in again: {relogin}, then {again}")
        if before != {"A": "sso", "B": "sso"}:
            rec.fail(f"redis-restart: session did not give SSO on both nodes before the wipe: {before}")
        if after != {"A": "login-page", "B": "login-page"}:
            rec.fail(f"redis-restart: after the wipe the session cookie should lead to the login form: {after}")
        if not relogin or again != {"A": "sso", "B": "sso"}:
            rec.fail(f"redis-restart: logging in again did not restore SSO: {relogin} {again}")
        summary["checks"]["session-wipe"] = {"before": before, "after": after, "again": again}
        rec.set_phase("steady-3", False)
        summary["checks"]["redis-restart"] = {"durable": check_durable(c, rec, snap),
                                              "tokens": check_tokens(c, rec, vus, "redis-restart")}
        time.sleep(args.steady)

        # 3. rotate the signing key ----------------------------------------------------------
        snap = snapshot(c, rec, "rotation")
        old_kids = {k["kid"] for k in jwks_of(c, "A")["keys"]}
        rec.set_phase("rotation (no fault)", False)
        out = c.idp("keys", "rotate", "--alg", "RS256")
        new_kid = re.search(r"nouvelle clé (\S+)", out).group(1)
        t_rot = time.time()
        while time.time() - t_rot < 20 and new_kid not in rec.kid_first_signed:
            time.sleep(0.2)
        signed_after = rec.kid_first_signed.get(new_kid)
        pub = {n: first_published.get((n, new_kid)) for n in ("A", "B")}
        log(f"  new key {new_kid[:12]}…: published on A +{(pub['A'] or 0) - t_rot:.1f} s, "
            f"B +{(pub['B'] or 0) - t_rot:.1f} s, first signature +{(signed_after or t_rot) - t_rot:.1f} s")
        if signed_after is None:
            rec.fail("rotation: the new key never signed within 20 s")
        elif any(p is None or p >= signed_after for p in pub.values()):
            rec.fail(f"rotation: new key signed before every node published it: {pub} vs {signed_after}")
        time.sleep(max(0.0, args.steady - (time.time() - t_rot)))
        still = {k["kid"] for k in jwks_of(c, "B")["keys"]}
        if not old_kids <= still:
            rec.fail(f"rotation: old keys left the JWKS too early: {old_kids - still}")
        summary["checks"]["rotation"] = {
            "durable": check_durable(c, rec, snap), "tokens": check_tokens(c, rec, vus, "rotation"),
            "published_s": {n: round(p - t_rot, 1) if p else None for n, p in pub.items()},
            "first_signature_s": round(signed_after - t_rot, 1) if signed_after else None}

        # 4. SIGTERM node A with requests in flight -----------------------------------------
        snap = snapshot(c, rec, "sigterm-A")
        rec.set_phase("fault: SIGTERM A", True)
        summary["checks"]["sigterm"] = sigterm_in_flight(c, rec)
        log(f"  node A restarted, ready in {c.start_node('A'):.1f} s")
        rec.set_phase("steady-4", False)
        time.sleep(args.steady / 2)
        summary["checks"]["sigterm-A"] = {"durable": check_durable(c, rec, snap),
                                          "tokens": check_tokens(c, rec, vus, "sigterm-A")}
        stop.set()
        for vu in vus:
            vu.join(timeout=15)
        rec.close()

        # every user's latest refresh token still refreshes, on both nodes in turn
        for vu in vus:
            if vu.refresh:
                r = requests.post(c.base("A" if vu.idx % 2 else "B") + "/token", auth=vu.auth,
                                  data={"grant_type": "refresh_token", "refresh_token": vu.refresh},
                                  timeout=TIMEOUT)
                if r.status_code != 200:
                    rec.fail(f"final refresh of {vu.email}: {r.status_code} {r.text[:120]}")
    except Exception as e:  # noqa: BLE001
        rec.fail(f"driver: {e!r}")
        stop.set()
        rec.close() if rec.phases else None
    finally:
        stop.set()
        c.stop_all()

    rows = report(rec)
    summary["phases"] = rows
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    log(f"load average at the end: {' '.join(load)} (on {os.cpu_count()} CPUs)")
    summary["loadavg_end"] = load
    for row in rows:
        if not row["fault"] and row["errors"]:
            rec.fail(f"{row['phase']}: {row['errors']} errors in a steady phase: {row['kinds']} "
                     f"(see the nodes' messages below)")
    losses = rec.session_losses
    by_phase, by_user = {}, {}
    for _, ph, who in losses:
        by_phase[ph] = by_phase.get(ph, 0) + 1
        by_user[who] = by_user.get(who, 0) + 1
    if rec.phases and rec.phases[-1][0] == "steady-4":
        missing = [vu.email for vu in vus if vu.email not in by_user]
        twice = {u: n for u, n in by_user.items() if n > 1}
        if missing:
            rec.fail(f"the Redis wipe should have ended the long-lived session of every user; "
                     f"still logged in: {missing}")
        if twice:
            rec.fail(f"sessions lost more than once: {twice}")
    log(f"sessions lost (cookie led to the login page, status 200 form): {by_phase or 'none'}")
    stray = {p: n for p, n in by_phase.items() if p not in ("fault: Redis restart", "steady-3")}
    if stray:
        rec.fail(f"sessions lost outside the Redis wipe: {stray}")
    summary["session_losses"] = by_phase
    # What the nodes logged as errors, by message: the provider's side of the counted errors.
    errors = {}
    for node in ("A", "B"):
        try:
            lines = open(os.path.join(args.workdir, f"node-{node}.log")).read().splitlines()
        except OSError:
            continue
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            msg = e.get("fields", {}).get("error.message")
            if e.get("level") == "ERROR" and msg:
                key = (node, msg[:120])
                first, last, n = errors.get(key, (e["timestamp"][11:19], None, 0))
                errors[key] = (first, e["timestamp"][11:19], n + 1)
    if errors:
        print("errors logged by the nodes (node, count, first–last, message):")
        for (node, msg), (first, last, n) in sorted(errors.items(), key=lambda kv: kv[1][0]):
            print(f"   {node} ×{n:<3} {first}–{last}  {msg}")
    summary["node_errors"] = [{"node": k[0], "message": k[1], "count": v[2], "first": v[0],
                               "last": v[1]} for k, v in errors.items()]
    summary["jwks_fetches_by_the_relying_party"] = c.jwks_cache.fetches
    summary["duration_s"] = round(time.time() - started, 1)
    summary["failures"] = rec.failures
    with open(os.path.join(args.workdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    if rec.failures:
        print(f"\n{len(rec.failures)} ÉCHEC(S):")
        for f in rec.failures[:40]:
            print(f"  - {f}")
        return 1
    print(f"all assertions held ({summary['duration_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
