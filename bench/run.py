#!/usr/bin/env python3
"""Endpoints under load: our provider (embedded, PostgreSQL + Redis) against npm oidc-provider.

Driven by bench/run.sh, which builds the release binary and installs wrk and the peer. For each
target this program starts the server, prepares clients, an account, a session and tokens through
the public endpoints, then runs wrk (bench/wrk/*.lua) on loopback for each scenario, one after the
other, and prints a Markdown table (requests/s, p50, p99, our ratio to the peer); `--write FILE`
replaces the section between the markers in FILE with it (docs/performance.md).

Standard library + requests only.
"""

import argparse
import base64
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

# (scenario, label, target ratio to the peer or None)
SCENARIOS = [
    ("discovery", "discovery document", 5),
    ("jwks", "JWKS", 5),
    ("cc_rs256", "client_credentials, RS256 access token", None),
    ("cc_es256", "client_credentials, ES256 access token", 3),
    ("introspection", "introspection (active token)", 4),
    ("userinfo", "userinfo (bearer)", None),
    ("code_flow", "code flow with a session (authorize + token), flows/s", 3),
    ("refresh", "refresh with rotation", None),
]


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
    r = subprocess.run(["cargo", "bench", "--locked", "-p", "idp", "--bench", "hot_paths", "--",
                        ARGON2_BENCH, "--warm-up-time", "1", "--measurement-time", "4",
                        "--noplot"], capture_output=True, text=True, check=True)
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

    def run(self, url, script, env, connections=None, duration=None, warmup=True):
        """Runs wrk once (after an unrecorded warm-up) and returns the BENCH line as a dict."""
        c = connections or self.connections
        env = dict(os.environ, BENCH_WRK_DIR=os.path.join(HERE, "wrk"),
                   BENCH_THREADS=str(self.threads), **env)
        cmd = ["wrk", "-t", str(self.threads), "-c", str(c), "--timeout", "10s",
               "-s", os.path.join(HERE, "wrk", script), url]
        if self.warmup and warmup:
            subprocess.run([*cmd[:1], "-d", f"{self.warmup}s", *cmd[1:]], env=env,
                           capture_output=True, timeout=self.warmup + 60)
        r = subprocess.run([*cmd[:1], "-d", f"{duration or self.duration}s", *cmd[1:]], env=env,
                           capture_output=True, text=True, timeout=(duration or self.duration) + 60)
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

    out["code_flow"] = w.run(base + ctx["authorize"], "code_flow.lua", {
        "BENCH_AUTHORIZE": ctx["authorize"], "BENCH_COOKIE": ctx["cookie"],
        "BENCH_TOKEN_PATH": paths["token_path"], "BENCH_AUTH": basic(*ctx["clients"]["RS256"]),
        "BENCH_REDIRECT_URI": peer.REDIRECT_URI, "BENCH_CODE_VERIFIER": peer.CODE_VERIFIER})
    log(f"  {target:9} {'code_flow':14} {fmt_result(out['code_flow'])}")

    # Two refresh tokens per connection (wrk asks for one request more than it has connections
    # at the start): each is spent once, then replaced by the answer's.
    # Made just before: the peer's in-memory adapter is a bounded LRU, so tokens made before the
    # code flow scenario would have been evicted by the codes and tokens it created.
    tokens_file = os.path.join(ctx["work"], f"refresh-{target}.txt")
    with open(tokens_file, "w") as f:
        f.write("\n".join(ctx["refresh_tokens"](2 * w.connections)) + "\n")
    out["refresh"] = w.run(token_url, "refresh.lua", {
        "BENCH_TOKEN_PATH": paths["token_path"], "BENCH_AUTH": basic(*ctx["clients"]["RS256"]),
        "BENCH_TOKENS_FILE": tokens_file},
        # No warm-up: it would spend the file's tokens (the code flow warmed the server up).
        warmup=False)
    log(f"  {target:9} {'refresh':14} {fmt_result(out['refresh'])}")
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
        o.start(os.path.join(work, f"idp-{backend}.log"))
        time.sleep(1)
        idle = o.rss_kib()
        cookie = o.login_session()
        tokens = o.code_flow_tokens("RS256", cookie)
        ctx = {
            "work": work, "cookie": cookie, "authorize": o.authorize_query("RS256"),
            "clients": {alg: o.client(alg) for alg in ("RS256", "ES256")},
            "access_token": tokens["access_token"],
            "refresh_tokens": lambda n: refresh_tokens(
                lambda: o.code_flow_tokens("RS256", cookie), n),
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
            results[target][label] = w.run(o.base + "/connexion", "login.lua",
                                           dict(login_env, BENCH_DELAY_MS=str(pause)),
                                           connections=c)
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
    p = peer.start(port, os.path.join(work, "peer.log"))
    try:
        time.sleep(1)
        idle = rss_kib(p.pid)
        paths = peer.endpoints(base)
        cookie = peer.login_session(base)
        ctx = {
            "work": work, "cookie": cookie,
            "authorize": peer.authorize_query(peer.CLIENTS["RS256"][0]),
            "clients": peer.CLIENTS,
            "access_token": peer.opaque_access_token(base, "RS256"),
            "refresh_tokens": lambda n: refresh_tokens(
                lambda: peer.code_flow_tokens(base, "RS256"), n),
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


def table(results, memory, args):
    lines = []
    lines.append(f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} by `bash bench/run.sh` "
                 f"({os.cpu_count()} cores, wrk {args.threads} thread(s), {args.connections} "
                 f"connections, {args.duration} s per scenario after a {args.warmup} s warm-up, "
                 f"everything on one machine).")
    lines.append("")
    lines.append("| scenario | ours, embedded: /s · p50 · p99 (ms) | ours, PostgreSQL + Redis | "
                 "peer (oidc-provider) | ratio emb. / pg. to peer | target |")
    lines.append("|---|---|---|---|---|---|")
    for name, label, target in SCENARIOS:
        cells, rates = [], {}
        for t in ("ours-emb", "ours-pg", "peer"):
            r = results.get(t, {}).get(name)
            if r is None:
                cells.append("—")
                continue
            rates[t] = r["rate"]
            bad = sum(v for k, v in r["statuses"].items() if k not in ("200", "302", "303"))
            note = f" ({bad} refused)" if bad else ""
            cells.append(f"{r['rate']:,.0f} · {ms(r['p50_us'])} · {ms(r['p99_us'])}{note}")
        ratio = "—"
        if "peer" in rates and rates["peer"] > 0:
            ratio = " / ".join(f"{rates[t] / rates['peer']:.1f}×" for t in ("ours-emb", "ours-pg")
                               if t in rates)
        goal = f"≥ {target}×" if target else "—"
        lines.append(f"| {label} | {' | '.join(cells)} | {ratio} | {goal} |")
    lines.append("")
    lines.append("| password logins (POST /connexion) | connections | pause between attempts | "
                 "attempts/s | logins/s | p50 · p99 (ms) | 503 (shed) | argon2id capacity "
                 "(logins/s) | share of it |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for t, tname in (("ours-emb", "embedded"), ("ours-pg", "PostgreSQL + Redis")):
        argon2_ms = results.get(t, {}).get("_argon2_argon2_ms")
        capacity = 1000 / argon2_ms if argon2_ms else None
        for label, pause in (("login", 0), ("login_overload", args.overload_pause_ms)):
            r = results.get(t, {}).get(label)
            if not r:
                continue
            share = f"{100 * r['rate'] / capacity:.0f} %" if capacity else "—"
            offered = r["requests"] / (r["duration_us"] / 1e6)
            other = {k: v for k, v in r["statuses"].items() if k not in ("302", "303", "503")}
            note = f" (other answers: {other})" if other else ""
            lines.append(f"| {tname} | {r['connections']} | {pause} ms | {offered:.0f} | "
                         f"{r['rate']:.0f}{note} | {ms(r['p50_us'])} · {ms(r['p99_us'])} | "
                         f"{r['statuses'].get('503', 0)} | "
                         f"{f'{capacity:.0f}' if capacity else '—'} | {share} |")
    lines.append("")
    lines.append(f"argon2id capacity: 1 s ÷ criterion's time per verification with all "
                 f"{os.cpu_count()} cores hashing (`hot_paths`, « {ARGON2_BENCH} »: the "
                 f"server's hasher, one thread per core, fed without pause), measured just "
                 f"before each target's logins with the server idle.")
    lines.append("")
    lines.append("| resident memory (VmRSS) | idle after start | after the endpoint scenarios | "
                 "after the login floods |")
    lines.append("|---|---|---|---|")
    for t, tname in (("ours-emb", "ours, embedded"), ("ours-pg", "ours, PostgreSQL + Redis"),
                     ("peer", "peer (node)")):
        m = memory.get(t)
        if m:
            after = f"{m['after_logins'] / 1024:.1f} MiB" if "after_logins" in m else "—"
            lines.append(f"| {tname} | {m['idle'] / 1024:.1f} MiB | "
                         f"{m['after_endpoints'] / 1024:.1f} MiB | {after} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--idp", required=True, help="release idp binary")
    ap.add_argument("--duration", type=int, default=10)
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
    args = ap.parse_args()

    w = Wrk(args)
    results, memory = {}, {}
    work = tempfile.mkdtemp(prefix="idp-bench.")
    targets = args.targets.split(",")
    try:
        if "ours-emb" in targets:
            log("our provider, embedded (SQLite + in-process store)")
            bench_ours(args, w, "embedded", work, results, memory)
        if "ours-pg" in targets:
            log("our provider, PostgreSQL + Redis")
            bench_ours(args, w, "postgres", work, results, memory)
        if "peer" in targets:
            log("peer: oidc-provider (npm), in-memory adapter")
            bench_peer(args, w, work, results, memory)
    except Exception:
        log(f"failed; logs kept in {work}")
        raise
    md = table(results, memory, args)
    print()
    print(md)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"results": results, "memory": memory}, f, indent=1)
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
