#!/usr/bin/env python3
"""Endpoints under load: our provider (embedded, PostgreSQL + Redis) against npm oidc-provider.

Driven by bench/run.sh, which builds the release binary and installs wrk and the peer. For each
target this program starts the server, prepares clients, an account, a session and tokens through
the public endpoints, then runs wrk (bench/wrk/*.lua) on loopback for each scenario, one after the
other, and prints a Markdown table (requests/s, p50, p99, our ratio to the peer); `--write FILE`
replaces the section between the markers in FILE with it (docs/performance.md).

Per core: each server (ours and the peer alike) runs pinned to the CPUs of `--server-cpus`
(default core 0) and wrk to those of `--load-cpus` (default core 1), with `taskset`, so that
every server has the same CPU and the load generator does not take from it. `--runs` (default 3)
repeats the whole sequence (targets one after the other within a run, so that the VM's drift
touches them alike); the table gives each figure's median and spread, and a target holds only
when every run meets it.

Standard library + requests only.
"""

import argparse
import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import peer  # noqa: E402  (bench/peer.py)
from ours import EMAIL, PASSWORD, Ours  # noqa: E402

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"

# (scenario, label, target ratio to the peer per core)
SCENARIOS = [
    ("discovery", "discovery document", 4),
    ("jwks", "JWKS", 4),
    ("cc_rs256", "client_credentials, RS256 access token", 4),
    ("cc_es256", "client_credentials, ES256 access token", 4),
    ("introspection", "introspection (active token)", 4),
    ("userinfo", "userinfo (bearer)", 4),
    ("code_flow", "code flow with a session (authorize + token), RS256 client, flows/s", 4),
    ("code_flow_es256", "code flow with a session, ES256 client, flows/s", 4),
    ("refresh", "refresh with rotation, RS256 client", 4),
    ("refresh_es256", "refresh with rotation, ES256 client", 4),
]

# CPU sets (`taskset -c`) of the server and of the load generator; None: not pinned.
PIN = {"server": None, "load": None}


def pinned(cmd, role):
    """`cmd` under `taskset` to the CPUs of `role` ("server" or "load"), when pinning."""
    return ["taskset", "-c", PIN[role], *cmd] if PIN[role] else list(cmd)


STORES = ("postgres", "redis-server")


@contextlib.contextmanager
def stores_pinned(cpus):
    """PostgreSQL and Redis moved to `cpus` (the load generator's) while the block runs, then
    back where they were. On a two-core machine they would otherwise take turns on the server's
    core, which they would not do on machines of their own; their CPU is counted apart
    (bench/profile.py). New PostgreSQL backends inherit the postmaster's affinity. Needs the
    right to change their affinity (root, or their owner); without it they stay unpinned."""
    wanted = {int(c) for part in cpus.split(",") for c in
              (range(int(part.split("-")[0]), int(part.split("-")[-1]) + 1))}
    moved = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                name = f.read().split("(", 1)[1].rsplit(")", 1)[0]
            if name not in STORES:
                continue
            for tid in map(int, os.listdir(f"/proc/{pid}/task")):
                before = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, wanted)
                moved[tid] = before
        except (OSError, IndexError):
            continue
    log(f"PostgreSQL and Redis pinned to CPU {cpus} ({len(moved)} threads)" if moved
        else "PostgreSQL and Redis not pinned (none found, or no right to)")
    try:
        yield
    finally:
        for tid, before in moved.items():
            try:
                os.sched_setaffinity(tid, before)
            except OSError:
                pass  # gone meanwhile (a backend that ended)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def basic(client_id, secret):
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


ARGON2_BENCH = "verify, every core busy"


def argon2_argon2_ms():
    """Criterion's time per argon2id verification with every core hashing (hot_paths), measured
    now: the VM's speed drifts by 15-20 % within minutes, so each target's logins are compared
    with a capacity measured just before them, the server idle."""
    # On the server's CPUs: the hasher has one thread per CPU it may run on, as the server's.
    r = subprocess.run(pinned(["cargo", "bench", "--locked", "-p", "idp", "--bench", "hot_paths",
                               "--", ARGON2_BENCH, "--warm-up-time", "1", "--measurement-time",
                               "4", "--noplot"], "server"),
                       capture_output=True, text=True, check=True)
    m = re.search(r"every core busy\s+time:\s+\[\S+ \S+ (\S+) (\S+)", r.stdout)
    if not m or m.group(2) != "ms":
        raise SystemExit(f"unexpected criterion output:\n{r.stdout}\n{r.stderr}")
    return float(m.group(1))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))


class Wrk:
    def __init__(self, args):
        self.duration, self.connections, self.threads = args.duration, args.connections, args.threads
        self.warmup = args.warmup

    def run(self, url, script, env, connections=None, duration=None, warmup=True, settle=0):
        """Runs wrk once (after an unrecorded warm-up, then `settle` seconds of rest) and returns
        the BENCH line as a dict."""
        c = connections or self.connections
        env = dict(os.environ, BENCH_WRK_DIR=os.path.join(HERE, "wrk"),
                   BENCH_THREADS=str(self.threads), BENCH_CONNECTIONS=str(c), **env)
        cmd = ["-t", str(self.threads), "-c", str(c), "--timeout", "10s",
               "-s", os.path.join(HERE, "wrk", script), url]
        if self.warmup and warmup:
            subprocess.run(pinned(["wrk", "-d", f"{self.warmup}s", *cmd], "load"), env=env,
                           capture_output=True, timeout=self.warmup + 60)
            time.sleep(settle)
        r = subprocess.run(pinned(["wrk", "-d", f"{duration or self.duration}s", *cmd], "load"),
                           env=env, capture_output=True, text=True,
                           timeout=(duration or self.duration) + 60)
        m = re.search(r"^BENCH (.*)$", r.stdout, re.M)
        if r.returncode != 0 or not m:
            raise RuntimeError(f"wrk failed ({r.returncode}): {r.stdout[-500:]} {r.stderr[-500:]}")
        res = json.loads(m.group(1))
        seconds = res["duration_us"] / 1e6
        res["rate"] = res["units"] / seconds
        res["connections"] = c
        return res


def scenarios_for(target, w, base, paths, ctx):
    """Runs every scenario against one prepared server; returns {scenario: result}."""
    out = {}
    token_url = base + paths["token_path"]

    def static(name, path, **env):
        out[name] = w.run(base + path, "static.lua", env)
        log(f"  {target:9} {name:14} {fmt_result(out[name])}")

    static("discovery", paths["discovery_path"])
    static("jwks", paths["jwks_path"])
    for alg in ("RS256", "ES256"):
        static(f"cc_{alg.lower()}", paths["token_path"], BENCH_METHOD="POST",
               BENCH_BODY="grant_type=client_credentials", BENCH_AUTH=basic(*ctx["clients"][alg]))
    static("introspection", paths["introspection_path"], BENCH_METHOD="POST",
           BENCH_BODY="token=" + ctx["access_token"], BENCH_AUTH=basic(*ctx["clients"]["RS256"]))
    static("userinfo", paths["userinfo_path"], BENCH_AUTH="Bearer " + ctx["access_token"])

    for alg, suffix in (("RS256", ""), ("ES256", "_es256")):
        name = "code_flow" + suffix
        # A session of its own for each: the peer's in-memory adapter is a bounded LRU, and the
        # codes and tokens of the first scenario evict the grants of the session it used.
        out[name] = w.run(base + ctx["authorize"](alg), "code_flow.lua", {
            "BENCH_AUTHORIZE": ctx["authorize"](alg), "BENCH_COOKIE": ctx["session"](),
            "BENCH_TOKEN_PATH": paths["token_path"], "BENCH_AUTH": basic(*ctx["clients"][alg]),
            "BENCH_REDIRECT_URI": peer.REDIRECT_URI, "BENCH_CODE_VERIFIER": peer.CODE_VERIFIER})
        log(f"  {target:9} {name:14} {fmt_result(out[name])}")

    for alg, suffix in (("RS256", ""), ("ES256", "_es256")):
        # Two refresh tokens per connection (wrk asks for one request more than it has
        # connections at the start): each is spent once, then replaced by the answer's.
        # Made just before: the peer's in-memory adapter is a bounded LRU, so tokens made before
        # the code flow scenario would have been evicted by the codes and tokens it created.
        name = "refresh" + suffix
        tokens_file = os.path.join(ctx["work"], f"{name}-{target}.txt")
        with open(tokens_file, "w") as f:
            f.write("\n".join(ctx["refresh_tokens"](alg, 2 * w.connections)) + "\n")
        out[name] = w.run(token_url, "refresh.lua", {
            "BENCH_TOKEN_PATH": paths["token_path"], "BENCH_AUTH": basic(*ctx["clients"][alg]),
            "BENCH_TOKENS_FILE": tokens_file},
            # No warm-up: it would spend the file's tokens (the code flow warmed the server up).
            warmup=False)
        log(f"  {target:9} {name:14} {fmt_result(out[name])}")
    return out


def fmt_result(r):
    other = {k: v for k, v in r["statuses"].items() if k not in ("200", "302", "303")}
    extra = f" other statuses {other}" if other else ""
    if r["socket_errors"]:
        extra += f" socket errors {r['socket_errors']}"
    return f"{r['rate']:9.0f}/s  p50 {r['p50_us'] / 1000:7.2f} ms  p99 {r['p99_us'] / 1000:7.2f} ms{extra}"


def refresh_tokens(get_tokens, n):
    return [get_tokens()["refresh_token"] for _ in range(n)]


def bench_ours(args, w, backend, work, results, memory):
    port = free_port()
    db_name = None
    if backend == "embedded":
        o = Ours(args.idp, backend, port, work)
    else:
        db_name = f"idp_bench_{secrets.token_hex(4)}"
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qAtc",
                        f"CREATE DATABASE {db_name}"], check=True)
        o = Ours(args.idp, backend, port, work,
                 database_url=f"postgres://postgres@127.0.0.1:5432/{db_name}",
                 redis_url=args.redis_url)
    try:
        o.prepare()
        o.start(os.path.join(work, f"idp-{backend}.log"), pinned([], "server"))
        time.sleep(1)
        idle = o.rss_kib()
        cookie = o.login_session()
        tokens = o.code_flow_tokens("RS256", cookie)
        ctx = {
            "work": work, "session": o.login_session, "authorize": o.authorize_query,
            "clients": {alg: o.client(alg) for alg in ("RS256", "ES256")},
            "access_token": tokens["access_token"],
            "refresh_tokens": lambda alg, n: refresh_tokens(
                lambda: o.code_flow_tokens(alg, cookie), n),
        }
        paths = {
            "discovery_path": "/.well-known/openid-configuration", "jwks_path": "/jwks",
            "token_path": "/token", "introspection_path": "/introspect",
            "userinfo_path": "/userinfo",
        }
        target = f"ours-{'emb' if backend == 'embedded' else 'pg'}"
        results[target] = scenarios_for(target, w, o.base, paths, ctx)
        loaded = o.rss_kib()

        # Password logins: at the hashing capacity, then far beyond it (shedding).
        csrf_cookie, csrf = o.login_form()
        login_env = {"BENCH_EMAIL": "bench%40bench.test", "BENCH_PASSWORD": PASSWORD,
                     "BENCH_CSRF_COOKIE": csrf_cookie, "BENCH_CSRF": csrf}
        assert EMAIL == "bench@bench.test"
        runs = (("login", args.login_connections, 0),
                ("login_overload", args.overload, args.overload_pause_ms))
        argon2_ms = argon2_argon2_ms()
        results[target]["_argon2_argon2_ms"] = argon2_ms
        log(f"  {target:9} argon2id, every core busy: {argon2_ms:.2f} ms per verification "
            f"= {1000 / argon2_ms:.0f} logins/s")
        for label, c, pause in runs:
            # The previous run's admitted attempts finish first (at most hash_queue of them).
            time.sleep(3)
            # The warm-up's attempts still in line when it ends must not be hashed during the
            # measured run: the server skips those whose client went, and the rest finish in
            # the pause (until 2026-12-05 they were charged to the flood: 65–73 %).
            results[target][label] = w.run(o.base + "/connexion", "login.lua",
                                           dict(login_env, BENCH_DELAY_MS=str(pause)),
                                           connections=c, settle=3)
            log(f"  {target:9} {label:14} {fmt_result(results[target][label])}")
        time.sleep(1)
        after_logins = o.rss_kib()
        memory[target] = {"idle": idle, "after_endpoints": loaded, "after_logins": after_logins}
        log(f"  {target:9} RSS idle {idle / 1024:.1f} MiB, after the endpoints "
            f"{loaded / 1024:.1f} MiB, after the logins {after_logins / 1024:.1f} MiB")
    finally:
        o.stop()
        if db_name:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qAtc",
                            f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"], check=False)


def bench_peer(args, w, work, results, memory):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    p = peer.start(port, os.path.join(work, "peer.log"), pinned([], "server"))
    try:
        time.sleep(1)
        idle = rss_kib(p.pid)
        paths = peer.endpoints(base)
        ctx = {
            "work": work, "session": lambda: peer.login_session(base),
            "authorize": lambda alg: peer.authorize_query(peer.CLIENTS[alg][0]),
            "clients": peer.CLIENTS,
            "access_token": peer.opaque_access_token(base, "RS256"),
            "refresh_tokens": lambda alg, n: refresh_tokens(
                lambda: peer.code_flow_tokens(base, alg), n),
        }
        results["peer"] = scenarios_for("peer", w, base, paths, ctx)
        memory["peer"] = {"idle": idle, "after_endpoints": rss_kib(p.pid)}
        log(f"  peer      RSS idle {idle / 1024:.1f} MiB, after the endpoints "
            f"{memory['peer']['after_endpoints'] / 1024:.1f} MiB")
    finally:
        p.terminate()
        p.wait(10)


def ms(us):
    return f"{us / 1000:.2f}"


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def spread(xs):
    """The runs' range around their median, in per cent of it: « ±a % »."""
    m = median(xs)
    if len(xs) < 2 or m == 0:
        return ""
    return f" (−{100 * (m - min(xs)) / m:.0f} % / +{100 * (max(xs) - m) / m:.0f} %)"


def rate_cell(runs, target, name):
    rs = [r[target][name] for r in runs if name in r.get(target, {})]
    if not rs:
        return "—"
    rates = [r["rate"] for r in rs]
    bad = sum(v for r in rs for k, v in r["statuses"].items() if k not in ("200", "302", "303"))
    note = f" ({bad} refused)" if bad else ""
    p99 = median([r["p99_us"] for r in rs])
    return f"{median(rates):,.0f}{spread(rates)} · p99 {ms(p99)}{note}"


def table(runs, memory, args):
    lines = []
    pin = (f"server pinned to CPU {PIN['server']}, wrk to CPU {PIN['load']} (`taskset`)"
           if PIN["server"] else "not pinned")
    lines.append(f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} by `bash bench/run.sh` "
                 f"({os.cpu_count()} cores, {pin}; wrk {args.threads} thread(s), "
                 f"{args.connections} connections, {args.duration} s per scenario after a "
                 f"{args.warmup} s warm-up; {len(runs)} run(s), each target in turn within a "
                 f"run). Each cell: the median of the runs (requests or flows per second), in "
                 f"brackets how far the lowest and highest runs are from it, then the median p99 "
                 f"latency in ms. The ratio is ours ÷ the peer's in the same run: its median, "
                 f"and its lowest run, which decides the target.")
    lines.append("")
    lines.append("| scenario | ours, embedded | ours, PostgreSQL + Redis | peer (oidc-provider) | "
                 "ratio emb.: median (lowest) | ratio pg.: median (lowest) | target | met? |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for name, label, goal in SCENARIOS:
        cells = [rate_cell(runs, t, name) for t in ("ours-emb", "ours-pg", "peer")]
        ratios, met = [], []
        for t in ("ours-emb", "ours-pg"):
            per_run = [r[t][name]["rate"] / r["peer"][name]["rate"] for r in runs
                       if name in r.get(t, {}) and name in r.get("peer", {})
                       and r["peer"][name]["rate"] > 0]
            if per_run:
                ratios.append(f"{median(per_run):.1f}× ({min(per_run):.1f}×)")
                met.append(min(per_run) >= goal)
            else:
                ratios.append("—")
        verdict = "—" if not met else ("yes" if all(met) else "**no**")
        lines.append(f"| {label} | {' | '.join(cells)} | {' | '.join(ratios)} | ≥ {goal}× | "
                     f"{verdict} |")
    lines.append("")
    lines.append("| password logins (POST /connexion) | connections | pause between attempts | "
                 "attempts/s | logins/s | p99 (ms) | 503 (shed) per run | argon2id capacity "
                 "(logins/s) | share of it: median (lowest) |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for t, tname in (("ours-emb", "embedded"), ("ours-pg", "PostgreSQL + Redis")):
        for label, pause in (("login", 0), ("login_overload", args.overload_pause_ms)):
            rs = [(r[t][label], 1000 / r[t]["_argon2_argon2_ms"]) for r in runs
                  if label in r.get(t, {})]
            if not rs:
                continue
            shares = [100 * x["rate"] / cap for x, cap in rs]
            offered = median([x["requests"] / (x["duration_us"] / 1e6) for x, _ in rs])
            other = {}
            for x, _ in rs:
                for k, v in x["statuses"].items():
                    if k not in ("302", "303", "503"):
                        other[k] = other.get(k, 0) + v
            note = f" (other answers: {other})" if other else ""
            rates = [x["rate"] for x, _ in rs]
            lines.append(f"| {tname} | {rs[0][0]['connections']} | {pause} ms | {offered:.0f} | "
                         f"{median(rates):.0f}{spread(rates)}{note} | "
                         f"{ms(median([x['p99_us'] for x, _ in rs]))} | "
                         f"{median([x['statuses'].get('503', 0) for x, _ in rs]):.0f} | "
                         f"{median([cap for _, cap in rs]):.0f} | "
                         f"{median(shares):.0f} % ({min(shares):.0f} %) |")
    lines.append("")
    lines.append(f"argon2id capacity: 1 s ÷ criterion's time per verification with every CPU "
                 f"the server may use hashing (`hot_paths`, « {ARGON2_BENCH} », run under the "
                 f"server's `taskset`: the server's hasher, one thread per CPU, fed without "
                 f"pause), measured just before each target's logins with the server idle.")
    lines.append("")
    lines.append("| resident memory (VmRSS), highest run | idle after start | after the endpoint "
                 "scenarios | after the login floods |")
    lines.append("|---|---|---|---|")
    for t, tname in (("ours-emb", "ours, embedded"), ("ours-pg", "ours, PostgreSQL + Redis"),
                     ("peer", "peer (node)")):
        ms_ = [m[t] for m in memory if t in m]
        if ms_:
            peak = lambda k: max(m[k] for m in ms_) / 1024  # noqa: E731
            after = f"{peak('after_logins'):.1f} MiB" if "after_logins" in ms_[0] else "—"
            lines.append(f"| {tname} | {peak('idle'):.1f} MiB | "
                         f"{peak('after_endpoints'):.1f} MiB | {after} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--idp", required=True, help="release idp binary")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--server-cpus", default="0", help="taskset CPU list of the servers")
    ap.add_argument("--load-cpus", default="1", help="taskset CPU list of wrk")
    ap.add_argument("--no-pin", action="store_true", help="run unpinned")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--login-connections", type=int, default=8)
    ap.add_argument("--overload", type=int, default=256,
                    help="connections of the login flood (beyond hash_concurrency + hash_queue)")
    ap.add_argument("--overload-pause-ms", type=int, default=500,
                    help="pause of each flood connection between its attempts")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    ap.add_argument("--targets", default="ours-emb,ours-pg,peer")
    ap.add_argument("--write", help="Markdown file whose bench section is replaced")
    ap.add_argument("--json", help="file to keep every run's raw results in")
    args = ap.parse_args()

    if not args.no_pin:
        if (os.cpu_count() or 1) < 2:
            raise SystemExit("pinning needs two CPUs (one for the server, one for wrk): --no-pin")
        PIN.update(server=args.server_cpus, load=args.load_cpus)
    w = Wrk(args)
    runs, memory = [], []
    work = tempfile.mkdtemp(prefix="idp-bench.")
    targets = args.targets.split(",")
    stores = stores_pinned(args.load_cpus) if PIN["server"] else contextlib.nullcontext()
    try:
        with stores:
            for i in range(args.runs):
                results, mem = {}, {}
                log(f"run {i + 1} of {args.runs}")
                # Each run starts from nothing: a database, keys and tokens of its own.
                run_work = os.path.join(work, f"run-{i + 1}")
                os.makedirs(run_work)
                if "ours-emb" in targets:
                    log("our provider, embedded (SQLite + in-process store)")
                    bench_ours(args, w, "embedded", run_work, results, mem)
                if "ours-pg" in targets:
                    log("our provider, PostgreSQL + Redis")
                    bench_ours(args, w, "postgres", run_work, results, mem)
                if "peer" in targets:
                    log("peer: oidc-provider (npm), in-memory adapter")
                    bench_peer(args, w, run_work, results, mem)
                runs.append(results)
                memory.append(mem)
    except Exception:
        log(f"failed; logs kept in {work}")
        raise
    md = table(runs, memory, args)
    print()
    print(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "memory": memory}, f, indent=1)
    if args.write:
        with open(args.write) as f:
            doc = f.read()
        if BEGIN not in doc or END not in doc:
            raise SystemExit(f"{args.write} has no {BEGIN} … {END} section")
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        with open(args.write, "w") as f:
            f.write(f"{head}{BEGIN}\n{md}\n{END}{tail}")
        log(f"written to {args.write}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
