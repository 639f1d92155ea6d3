#!/usr/bin/env python3
"""Limits and timing across two `idp` nodes (docs/cluster.md, « Limits and timing across nodes »).

Driven by scripts/cluster-probe.sh (which builds `idp`, creates and drops the database). Reuses
`Cluster` of faults.py: its own Redis, two nodes on one PostgreSQL database, the `idp` command.
The nodes run with the provider's DEFAULT limits (every IDP_LIMITS__* setting is removed from
their environment) and the anti-robot check off. All requests come from 127.0.0.1: the provider
counts the peer address and does not trust X-Forwarded-For (web/client_ip.rs), so every phase
starts on an empty keyspace (FLUSHALL of the probe's own Redis) and no phase spends another's
budget.

a. login, per account and client address: wrong passwords for one account alternately on node A
   and node B; past login_free_failures tries from this address each next one waits a delay, so
   the 429 « Trop de tentatives » must come at attempt login_free_failures + 1 in total, and then
   the right password from this address is refused on both nodes.
b. login, per client address: a different unknown e-mail for every attempt, alternating nodes;
   the 429 must come at attempt login_per_ip + 1 in total, for the right password too.
c. password reset step 1 (per address, then per client address) and sign-up step 1 (per address,
   then per client address), the same way.
d. timing: login (wrong password), reset step 1 and sign-up step 1 for existing and unknown
   e-mails, interleaved in random order, each pair on one node, nodes alternating; Mann-Whitney U.
   The per-IP budgets are kept by emptying the keyspace before each operation and whenever the
   next request would reach them (the limits stay at their defaults).
d'. the same for reset and sign-up step 1 with the nodes restarted to send mail over SMTP to a
   sink in this process that accepts at once: a known address's reset mail is sent after the
   answer, so the answers must not differ either (they did by ~45 ms while the answer waited).

Prints a table per phase; exit status 1 if an assertion failed, 0 otherwise.
Standard library + requests (+ what faults.py imports).
"""

import argparse
import concurrent.futures
import math
import os
import random
import re
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import requests  # noqa: E402

from faults import PASSWORD, TIMEOUT, Cluster, log  # noqa: E402

# The provider's defaults (idp/src/config.rs LimitsConfig::default, signup/email.rs constants).
LOGIN_FREE_FAILURES = 5
LOGIN_PER_IP = 100
RESET_PER_ADDRESS = 5
RESET_PER_IP = 30
SIGNUP_PER_ADDRESS = 10
SIGNUP_PER_IP = 30

TOO_MANY_LOGINS = "Trop de tentatives"  # error.rs, From<LimitReached> for PageError
TOO_MANY_RESETS = "Trop de demandes de réinitialisation"  # reset.rs, submit_start
BAD_CREDENTIALS = "Identifiant ou mot de passe incorrect."  # login.rs
WRONG = "Pas-le-bon-mot-2026!"

# « Cannot be told apart »: a gap larger than max(REL, ABS) between the medians that the test
# also finds significant below ALPHA fails. A skipped argon2 verification (≈25 ms) trips it.
REL, ABS_MS, ALPHA = 0.20, 5.0, 0.001


class SmtpSink:
    """A minimal SMTP server on loopback that accepts every message at once (no TLS, no auth):
    the best case of a real relay, for the reset timing over SMTP."""

    def __init__(self):
        self.srv = socket.create_server(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.messages = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = conn.makefile("rb")
        try:
            conn.sendall(b"220 sink.probe.test ESMTP\r\n")
            for line in f:
                cmd = line[:4].upper()
                if cmd == b"EHLO":
                    conn.sendall(b"250-sink.probe.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                elif cmd == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    for body in f:
                        if body == b".\r\n":
                            break
                    self.messages += 1
                    conn.sendall(b"250 2.0.0 queued\r\n")
                elif cmd == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:  # HELO MAIL RCPT RSET NOOP
                    conn.sendall(b"250 OK\r\n")
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.srv.close()


class Probe:
    def __init__(self, c, args):
        self.c = c
        self.args = args
        self.failures = []

    def fail(self, msg):
        self.failures.append(msg)
        log(f"ÉCHEC : {msg}")

    def flush(self):
        """An empty keyspace (the probe's own Redis): counters, sessions, codes all gone."""
        with socket.create_connection(("127.0.0.1", self.c.redis_port), 2) as s:
            s.sendall(b"FLUSHALL\r\n")
            if not s.recv(16).startswith(b"+OK"):
                raise RuntimeError("FLUSHALL refused")

    # one browser's forms --------------------------------------------------------------------
    def browser(self, path):
        """A fresh browser that loaded the form at `path`: (session, csrf)."""
        http = requests.Session()
        page = http.get(self.c.base("A") + path, timeout=TIMEOUT)
        page.raise_for_status()
        return http, re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)

    def post(self, http, node, path, data):
        t0 = time.perf_counter()
        r = http.post(self.c.base(node) + path, data=data, allow_redirects=False, timeout=TIMEOUT)
        return r, (time.perf_counter() - t0) * 1000

    def login(self, http, csrf, node, email, password):
        return self.post(http, node, "/connexion",
                         {"csrf": csrf, "authreq": "", "email": email, "password": password})

    def reset(self, http, csrf, node, email):
        return self.post(http, node, "/mot-de-passe-oublie", {"csrf": csrf, "email": email})

    def signup(self, http, csrf, node, email):
        return self.post(http, node, "/inscription", {"csrf": csrf, "email": email})

    # limits -----------------------------------------------------------------------------------
    def limit_phase(self, title, limit, attempt, expect_ok, refused_text, extra=()):
        """`attempt(i, node)` → response, for i = 1 … limit + 2, nodes alternating A, B. The
        first `limit` must answer `expect_ok`, the next ones 429 with `refused_text`. `extra`:
        (label, node, thunk) checks that must also be refused afterwards."""
        self.flush()
        log(f"— phase {title}")
        rows, first_refusal = [], None
        for i in range(1, limit + 3):
            node = "A" if i % 2 else "B"
            r = attempt(i, node)
            refused = r.status_code == 429 and refused_text in r.text
            if refused and first_refusal is None:
                first_refusal = i
            rows.append((str(i), node, r.status_code, "429" if i > limit else str(expect_ok),
                         refused == (i > limit) and (refused or r.status_code == expect_ok)))
        for label, node, thunk in extra:
            r = thunk(node)
            refused = r.status_code == 429 and refused_text in r.text
            rows.append((label, node, r.status_code, "429", refused))
        print(f"\n{title} (limit {limit}; answers by attempt number, nodes alternating)")
        print("| attempt | node | status | expected | ok |")
        print("|---|---|---|---|---|")
        # consecutive equal rows shown as a range
        shown, k = [], 0
        while k < len(rows):
            j = k
            while (j + 1 < len(rows) and rows[j + 1][0].isdigit() and rows[k][0].isdigit()
                   and rows[j + 1][2:] == rows[k][2:]):
                j += 1
            if j > k:
                nodes = sorted({r[1] for r in rows[k:j + 1]})
                counts = "/".join(f"{n}×{sum(1 for r in rows[k:j + 1] if r[1] == n)}" for n in nodes)
                shown.append((f"{rows[k][0]}–{rows[j][0]}", counts) + rows[k][2:])
            else:
                shown.append(rows[k])
            k = j + 1
        for a, n, st, ex, ok in shown:
            print(f"| {a} | {n} | {st} | {ex} | {'yes' if ok else 'NO'} |")
        print(f"first refusal at attempt {first_refusal} (expected {limit + 1})")
        if first_refusal != limit + 1:
            self.fail(f"{title}: first 429 at attempt {first_refusal}, expected {limit + 1}")
        bad = [r for r in rows if not r[4]]
        if bad:
            self.fail(f"{title}: unexpected answers {[(a, n, s) for a, n, s, _, _ in bad]}")
        return first_refusal

    def limits(self, account):
        # a. login, per account ------------------------------------------------------------
        http, csrf = self.browser("/connexion")
        self.limit_phase(
            "a. login per account and address (one account, wrong passwords)", LOGIN_FREE_FAILURES,
            lambda i, node: self.login(http, csrf, node, account, WRONG)[0], 401, TOO_MANY_LOGINS,
            extra=[("right password", n, lambda node: self.login(http, csrf, node, account, PASSWORD)[0])
                   for n in ("A", "B")])
        # b. login, per client address ------------------------------------------------------
        self.limit_phase(
            "b. login per client address (a new unknown e-mail each time)", LOGIN_PER_IP,
            lambda i, node: self.login(http, csrf, node, f"inconnu{i}@ip.probe.test", WRONG)[0],
            401, TOO_MANY_LOGINS,
            extra=[("right password, another account", n,
                    lambda node: self.login(http, csrf, node, account, PASSWORD)[0]) for n in ("A", "B")])
        # c. reset step 1 -------------------------------------------------------------------
        http, csrf = self.browser("/mot-de-passe-oublie")
        for who, email in (("existing", account), ("unknown", "absent@reset.probe.test")):
            self.limit_phase(
                f"c. reset step 1 per address ({who} address)", RESET_PER_ADDRESS,
                lambda i, node, email=email: self.reset(http, csrf, node, email)[0], 303, TOO_MANY_RESETS)
        self.limit_phase(
            "c. reset step 1 per client address (a new address each time)", RESET_PER_IP,
            lambda i, node: self.reset(http, csrf, node, f"r{i}@ip.probe.test")[0], 303, TOO_MANY_RESETS)

        # c'. sign-up step 1: a fresh browser each time (the same address again in one browser
        # is not counted: it goes on to step 2)
        def signup_fresh(email, node):
            h, t = self.browser("/inscription")
            return self.signup(h, t, node, email)[0]

        for who, email in (("existing", account), ("unknown", "absent@signup.probe.test")):
            self.limit_phase(
                f"c. sign-up step 1 per address ({who} address)", SIGNUP_PER_ADDRESS,
                lambda i, node, email=email: signup_fresh(email, node), 303, TOO_MANY_LOGINS)
        self.limit_phase(
            "c. sign-up step 1 per client address (a new address each time)", SIGNUP_PER_IP,
            lambda i, node: signup_fresh(f"s{i}@ip.probe.test", node), 303, TOO_MANY_LOGINS)

    # timing -----------------------------------------------------------------------------------
    def timing(self, existing, only=None, title="d. timing", suffix=""):
        """`suffix` keeps the unknown addresses of a second run apart from the first's."""
        n = len(existing)
        rnd = random.Random(self.args.seed)
        ops = {
            # name: (form path, request, expected status, budget per client address)
            "login (wrong password)": ("/connexion",
                                       lambda h, t, node, e: self.login(h, t, node, e, WRONG), 401,
                                       LOGIN_PER_IP),
            "reset step 1": ("/mot-de-passe-oublie", self.reset, 303, RESET_PER_IP),
            "sign-up step 1": ("/inscription", self.signup, 303, SIGNUP_PER_IP),
        }
        results = []
        for op, (path, send, status, budget) in ops.items():
            if only and op not in only:
                continue
            log(f"— phase {title}: {op}")
            self.flush()
            tag = op.split()[0].replace("-", "") + suffix
            http, csrf = self.browser(path)
            used = 0

            def one(kind_email, node):
                nonlocal used, http, csrf
                if used + 1 > budget - 2:  # a fresh keyspace before the per-IP limit
                    self.flush()
                    http, csrf = self.browser(path)
                    used = 0
                used += 1
                r, ms = send(http, csrf, node, kind_email)
                return r, ms

            # warm-up: both kinds, both nodes, not measured
            for w in range(self.args.warmup):
                node = "A" if w % 2 else "B"
                one(f"warm{w}@{tag}.warm.probe.test", node)
                one(existing[w % n], node)
            self.flush()
            http, csrf = self.browser(path)
            used = 0
            samples = {"existing": [], "unknown": []}
            unexpected = []
            for i in range(n):
                node = "A" if i % 2 else "B"
                pair = [("existing", existing[i]), ("unknown", f"absent{i}@{tag}.probe.test")]
                rnd.shuffle(pair)
                for kind, email in pair:
                    r, ms = one(email, node)
                    if kind == "existing" and self.args.inject_delay_ms:
                        time.sleep(self.args.inject_delay_ms / 1000)  # the negative check only
                        ms += self.args.inject_delay_ms
                    if r.status_code != status:
                        unexpected.append((kind, email, node, r.status_code))
                    samples[kind].append(ms)
            if unexpected:
                self.fail(f"timing {op}: unexpected answers {unexpected[:5]} ({len(unexpected)} in all)")
            results.append((op, samples))

        print(f"\n{title}, existing vs unknown e-mail (ms, client side, both nodes; "
              f"Mann-Whitney U two-sided; told apart if |Δ median| > max({REL:.0%}, {ABS_MS:g} ms) "
              f"and p < {ALPHA})")
        print("| operation | n each | existing median | existing p90 | unknown median | unknown p90 "
              "| Δ median ms | Δ % | p | verdict |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for op, s in results:
            e, u = s["existing"], s["unknown"]
            me, mu = statistics.median(e), statistics.median(u)
            d = me - mu
            pct = 100 * d / mu if mu else float("inf")
            p = mann_whitney_p(e, u)
            leak = abs(d) > max(REL * min(me, mu), ABS_MS) and p < ALPHA
            print(f"| {op} | {len(e)} | {me:.1f} | {p90(e):.1f} | {mu:.1f} | {p90(u):.1f} | "
                  f"{d:+.1f} | {pct:+.1f} % | {p:.2g} | {'TOLD APART' if leak else 'same'} |")
            if leak:
                self.fail(f"timing {op}: existing {me:.1f} ms vs unknown {mu:.1f} ms "
                          f"(Δ {d:+.1f} ms, {pct:+.1f} %, p = {p:.2g})")


def p90(xs):
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def mann_whitney_p(a, b):
    """Two-sided p-value of the Mann-Whitney U test, normal approximation with tie correction
    and continuity correction (fine for n ≥ 20 each)."""
    n1, n2 = len(a), len(b)
    allv = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(allv)
    ties = 0.0
    i = 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1][0] == allv[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t ** 3 - t
        i = j + 1
    r1 = sum(r for r, (_, g) in zip(ranks, allv) if g == 0)
    u1 = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    mu = n1 * n2 / 2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = (abs(u1 - mu) - 0.5) / sigma
    return math.erfc(max(z, 0) / math.sqrt(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--idp", required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--psql-db", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--accounts", type=int, default=36,
                    help="existing accounts, = samples of each kind per timed operation")
    ap.add_argument("--warmup", type=int, default=4, help="unmeasured pairs per operation")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--skip-limits", action="store_true")
    ap.add_argument("--skip-smtp", action="store_true", help="no reset timing over SMTP")
    ap.add_argument("--inject-delay-ms", type=float, default=0,
                    help="negative check only: add this much to every existing-e-mail sample "
                         "(a client-side sleep), to see the timing assertion trip")
    args = ap.parse_args()

    started = time.time()
    c = Cluster(args)
    # The provider's defaults: nothing of faults.py's raised login limits, nor any IDP_LIMITS__*
    # of the caller's environment.
    for k in [k for k in c.env if k.startswith("IDP_LIMITS__")]:
        del c.env[k]
    probe = Probe(c, args)
    try:
        c.start_redis()
        c.idp("migrate")
        account = "titulaire@probe.test"
        existing = [account] + [f"compte{i:02d}@probe.test" for i in range(args.accounts)]
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda e: c.idp("users", "create", "--email", e, "--given-name", "Probe",
                                          "--family-name", e.split("@")[0],
                                          extra_env={"IDP_NEW_USER_PASSWORD": PASSWORD}), existing))
        log(f"{len(existing)} accounts created in {time.time() - t0:.1f} s")
        for node in ("A", "B"):
            log(f"node {node} ready in {c.start_node(node):.1f} s on {c.base(node)}")
        log("limits: the provider's defaults (no IDP_LIMITS__* set); anti-robot check off")
        if not args.skip_limits:
            probe.limits(account)
        probe.timing(existing[1:])
        if not args.skip_smtp:
            # Over SMTP, with a sink that answers at once (the best case of a real relay): an
            # answer that waited for a known address's delivery was ~45 ms slower.
            sink = SmtpSink()
            for node in ("A", "B"):
                c.procs[node].kill()
                c.procs[node].wait()
            c.env.update(IDP_MAIL__TRANSPORT="smtp", IDP_MAIL__SMTP_HOST="127.0.0.1",
                         IDP_MAIL__SMTP_PORT=str(sink.port), IDP_MAIL__SMTP_TLS="none")
            for node in ("A", "B"):
                log(f"node {node} restarted with mail over SMTP (sink on port {sink.port}), "
                    f"ready in {c.start_node(node):.1f} s")
            probe.timing(existing[1:], only=("reset step 1", "sign-up step 1"),
                         title="d'. timing over SMTP", suffix="smtp")
            log(f"the SMTP sink received {sink.messages} messages")
            sink.close()
    except Exception as e:  # noqa: BLE001
        probe.fail(f"driver: {e!r}")
    finally:
        c.stop_all()

    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else []
    log(f"load average at the end: {' '.join(load)} (on {os.cpu_count()} CPUs)")
    took = time.time() - started
    if probe.failures:
        print(f"\n{len(probe.failures)} ÉCHEC(S) ({took:.1f} s):")
        for f in probe.failures:
            print(f"  - {f}")
        return 1
    print(f"all assertions held ({took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
