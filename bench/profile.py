#!/usr/bin/env python3
"""Where one scenario's time goes: round trips per request and a `perf` profile of the server.

    python3 bench/profile.py --idp target/release/idp --backend postgres --scenario refresh_es256

Starts one pinned `idp serve` (bench/ours.py, as bench/run.py does), prepares it, then runs the
scenario with wrk twice:
1. counting: PostgreSQL's transactions (`pg_stat_database.xact_commit`; outside `BEGIN` each
   statement is one) and Redis's commands (`INFO commandstats`) before and after, divided by
   the units wrk counted; on SQLite, the statements the server ran are not counted (no
   network round trip: each is a hop to sqlx's worker thread);
2. `perf record -g` of the server's process during the run, then `perf report` of the symbols
   that take most of its core (self time), and the split kernel / our binary / libraries.

Findings go to docs/performance.md (« Profile »). Needs `perf` (Debian `linux-perf`) and the
machine's PostgreSQL and Redis as bench/run.sh does.
"""

import argparse
import contextlib
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run  # noqa: E402  (bench/run.py: Wrk, pinned, scenario parameters)
from ours import EMAIL, PASSWORD, Ours  # noqa: E402
import peer  # noqa: E402

SCENARIOS = ("discovery", "jwks", "userinfo", "introspection", "code_flow", "code_flow_es256", "refresh",
             "refresh_es256", "cc_rs256", "cc_es256", "login", "login_overload")


def psql(sql, db="postgres"):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-qAtc", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def redis_calls(url):
    host, port = re.match(r"redis://([^:/]+):(\d+)", url).groups()
    out = subprocess.run(["redis-cli", "-h", host, "-p", port, "INFO", "commandstats"],
                         check=True, capture_output=True, text=True).stdout
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"cmdstat_(\w+):calls=(\d+)", out)}


def scenario_env(name, o, ctx, work, w):
    """(url, wrk script, env, warm-up) of one scenario, as bench/run.py runs it."""
    alg = "ES256" if name.endswith("es256") else "RS256"
    auth = run.basic(*o.client(alg))
    if name in ("discovery", "jwks"):
        path = "/jwks" if name == "jwks" else "/.well-known/openid-configuration"
        return o.base + path, "static.lua", {}, True
    if name == "userinfo":
        return o.base + "/userinfo", "static.lua", {"BENCH_AUTH": "Bearer " + ctx["at"]}, True
    if name == "introspection":
        return o.base + "/introspect", "static.lua", {
            "BENCH_METHOD": "POST", "BENCH_BODY": "token=" + ctx["at"],
            "BENCH_AUTH": run.basic(*o.client("RS256"))}, True
    if name.startswith("login"):
        csrf_cookie, csrf = o.login_form()
        return o.base + "/connexion", "login.lua", {
            "BENCH_EMAIL": EMAIL.replace("@", "%40"), "BENCH_PASSWORD": PASSWORD,
            "BENCH_CSRF_COOKIE": csrf_cookie, "BENCH_CSRF": csrf,
            "BENCH_DELAY_MS": "500" if name == "login_overload" else "0"}, True
    if name.startswith("cc_"):
        return o.base + "/token", "static.lua", {
            "BENCH_METHOD": "POST", "BENCH_BODY": "grant_type=client_credentials",
            "BENCH_AUTH": auth}, True
    if name.startswith("code_flow"):
        return o.base + o.authorize_query(alg), "code_flow.lua", {
            "BENCH_AUTHORIZE": o.authorize_query(alg), "BENCH_COOKIE": o.login_session(),
            "BENCH_TOKEN_PATH": "/token", "BENCH_AUTH": auth,
            "BENCH_REDIRECT_URI": peer.REDIRECT_URI,
            "BENCH_CODE_VERIFIER": peer.CODE_VERIFIER}, True
    tokens_file = os.path.join(work, f"{name}-{secrets.token_hex(3)}.txt")
    with open(tokens_file, "w") as f:
        f.write("\n".join(o.code_flow_tokens(alg, ctx["cookie"])["refresh_token"]
                          for _ in range(2 * w.connections)) + "\n")
    return o.base + "/token", "refresh.lua", {
        "BENCH_TOKEN_PATH": "/token", "BENCH_AUTH": auth, "BENCH_TOKENS_FILE": tokens_file}, False


def stat(path):
    """(name, user + system CPU seconds so far) of a process or thread (/proc/…/stat)."""
    with open(path) as f:
        head, rest = f.read().rsplit(")", 1)
    fields = rest.split()
    return head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU time of process `pid` so far, in seconds."""
    return stat(f"/proc/{pid}/stat")[1]


def threads_cpu_seconds(pid):
    """{thread name: user + system CPU seconds so far} of the threads of process `pid`."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name, seconds = stat(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            continue
        out[name] = out.get(name, 0) + seconds
    return out


def core_ticks(cpu):
    """(busy, all) clock ticks of CPU `cpu` so far (/proc/stat), whoever ran on it."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                t = [int(x) for x in line.split()[1:]]
                return sum(t) - t[3] - t[4], sum(t)
    raise RuntimeError(f"no cpu{cpu} in /proc/stat")


def stores_cpu_seconds():
    """User + system CPU time so far of every PostgreSQL and Redis process of the machine."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            name, seconds = stat(f"/proc/{pid}/stat")
        except OSError:
            continue
        if name in run.STORES:
            total += seconds
    return total


def connections_of(name, args):
    """The logins run as bench/run.py runs them: 8 connections, or the flood of 256."""
    return {"login": 8, "login_overload": 256}.get(name, args.connections)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idp", required=True)
    ap.add_argument("--backend", choices=("embedded", "postgres"), default="postgres")
    ap.add_argument("--scenario", choices=SCENARIOS, action="append", required=True)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    ap.add_argument("--no-perf", action="store_true")
    ap.add_argument("--stores-unpinned", action="store_true",
                    help="leave PostgreSQL and Redis where the scheduler puts them")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    run.PIN.update(server="0", load="1")
    w = run.Wrk(argparse.Namespace(duration=args.duration, connections=args.connections,
                                   threads=1, warmup=2))
    work = tempfile.mkdtemp(prefix="idp-profile-")
    db_name = None
    if args.backend == "embedded":
        o = Ours(args.idp, "embedded", run.free_port(), work)
    else:
        db_name = f"idp_prof_{secrets.token_hex(4)}"
        psql(f"CREATE DATABASE {db_name}")
        o = Ours(args.idp, "postgres", run.free_port(), work,
                 database_url=f"postgres://postgres@127.0.0.1:5432/{db_name}",
                 redis_url=args.redis_url)
    cleanup = contextlib.ExitStack()
    try:
        if db_name and not args.stores_unpinned:
            cleanup.enter_context(run.stores_pinned("1"))
        o.prepare()
        o.start(os.path.join(work, "idp.log"), run.pinned([], "server"))
        time.sleep(1)
        cookie = o.login_session()
        ctx = {"cookie": cookie, "at": o.code_flow_tokens("RS256", cookie)["access_token"]}
        for name in args.scenario:
            url, script, env, warm = scenario_env(name, o, ctx, work, w)
            if warm:
                w.run(url, script, env, duration=2, warmup=False,
                      connections=connections_of(name, args))
                time.sleep(3 if name.startswith("login") else 0)
            counts = ""
            if db_name:
                before_pg = int(psql(f"SELECT xact_commit FROM pg_stat_database "
                                     f"WHERE datname = '{db_name}'"))
                before_redis = redis_calls(args.redis_url)
            url, script, env, _ = scenario_env(name, o, ctx, work, w)
            cpu, stores, core = cpu_seconds(o.proc.pid), stores_cpu_seconds(), core_ticks(0)
            threads = threads_cpu_seconds(o.proc.pid)
            r = w.run(url, script, env, warmup=False, connections=connections_of(name, args))
            cpu = cpu_seconds(o.proc.pid) - cpu
            stores = stores_cpu_seconds() - stores
            seconds = r["duration_us"] / 1e6
            threads = {k: (v - threads.get(k, 0)) / seconds
                       for k, v in threads_cpu_seconds(o.proc.pid).items()}
            threads = ", ".join(f"{k} {v:.0%}" for k, v in
                                sorted(threads.items(), key=lambda kv: -kv[1]) if v >= 0.01)
            core = [after - before for after, before in zip(core_ticks(0), core)]
            if db_name:
                time.sleep(1.1)  # the statistics collector's flush
                pg = int(psql(f"SELECT xact_commit FROM pg_stat_database "
                              f"WHERE datname = '{db_name}'")) - before_pg
                after = redis_calls(args.redis_url)
                rc = {k: v - before_redis.get(k, 0) for k, v in after.items()
                      if v - before_redis.get(k, 0) > 0}
                per = {k: round(v / r["units"], 2) for k, v in sorted(rc.items())
                       if v / r["units"] >= 0.01}
                counts = (f"  PostgreSQL transactions/unit {pg / r['units']:.2f} "
                          f"(background included)  Redis/unit {per}")
            busy = cpu / (r["duration_us"] / 1e6)
            print(f"{name}: {r['rate']:.0f}/s p99 {r['p99_us'] / 1000:.2f} ms  server CPU "
                  f"{busy:.0%} of its core, {1e6 * cpu / max(r['units'], 1):.0f} µs per unit; "
                  f"the core busy {core[0] / max(core[1], 1):.0%} (others on it "
                  f"{core[0] / max(core[1], 1) - busy:.0%}); PostgreSQL + Redis "
                  f"{1e6 * stores / max(r['units'], 1):.0f} µs per unit{counts}\n  server threads: {threads}", flush=True)
            if args.no_perf:
                continue
            url, script, env, _ = scenario_env(name, o, ctx, work, w)
            data = os.path.join(work, f"{name}.perf")
            rec = subprocess.Popen(["perf", "record", "-g", "-o", data, "-p", str(o.proc.pid)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            w.run(url, script, env, warmup=False, connections=connections_of(name, args))
            rec.terminate()
            rec.wait()
            rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                                  "--sort", "dso", "-g", "none"],
                                 capture_output=True, text=True).stdout
            print("\n".join(line for line in rep.splitlines()
                            if line.strip() and not line.startswith("#"))[:2000])
            rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio",
                                  "--sort", "sym", "-g", "none"],
                                 capture_output=True, text=True).stdout
            lines = [line for line in rep.splitlines() if line.strip() and not line.startswith("#")]
            print("\n".join(lines[:args.top]), flush=True)
    finally:
        cleanup.close()
        o.stop()
        if db_name:
            psql(f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)")


if __name__ == "__main__":
    main()
