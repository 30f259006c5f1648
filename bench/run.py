"""`make bench`: one run, one table. Every figure stands beside the reference it is measured against and
the ratio between them, because absolute times drift from machine to machine and minute to minute.

The run starts its own three sites under gunicorn on free loopback ports with temporary databases (the
helpers in tests/servers.py), measures, stops every server it started by its process id, and prints:

(a) token verification at a relying app, cold and warm, against a raw RSA-2048 verify and simplejwt
(b) requests/s and latency of an authenticated endpoint against the same server's unauthenticated one (wrk)
(c) a refresh at the issuer, database write included, against a raw RSA-2048 sign and a bare one-row commit
(d) a login against the password hasher alone and against the PBKDF2 hasher logins paid before (CPU time)
(e) how long a logout takes to reach the relying apps
(f) database queries, shared-cache calls and issuer calls per 10,000 authenticated requests
(g) the resident memory of one relying worker after 50,000 requests with 5,000 distinct tokens
(h) issuer throughput under gunicorn on PostgreSQL: refresh and login against a no-op POST on the same
    server, several concurrent clients (bench/clients.py)
(i) a password-reset request's answer time for an address with an account against one without
(j) the OpenID Connect code flow end to end over HTTP (authorize, token, ID-token verify: bench/oidc_flow.py)
    against a sign-in at the issuer's login page

then one line per target, met or not met. Options: --quick (shorter runs, for trying it out), --json FILE
(the raw figures and the printed table). BENCH_POSTGRES_URL names the PostgreSQL server for the second
refresh figure and for (h); without one they are reported as skipped."""

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import clients, load  # noqa: E402
from bench.memory import measure_relying_memory  # noqa: E402
from bench.reset_timing import measure_reset_timing  # noqa: E402
from bench.revocation import measure_revocation_propagation  # noqa: E402
from tests.servers import DEMO_PASSWORD, PYTHON, Stack, fresh_postgres_databases, prepare_stack  # noqa: E402

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECTION_TIMEOUT = 300
LOAD_CLIENTS = 4  # concurrent clients in (g) and (h), each its own process
# (h)'s reference: a POST through the same server, middleware and DRF view that does no work (an empty
# body is refused by the serializer: no database, no hashing, no signature).
NOOP_POST = clients.Workload("post", "/api/token/refresh/", 400, body={})
# The benchmark measures the embedded default profile on databases of its own: storage settings from the
# caller's environment must neither leak into it nor let it touch the caller's own databases or cache.
STORAGE_VARIABLES = (
    "REDIS_URL",
    "CACHE_KEY_PREFIX",
    "ISSUER_DATABASE_URL",
    "ORDERS_DATABASE_URL",
    "PRODUCTS_DATABASE_URL",
)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run_section(module: str, *, settings: str, env: dict[str, str], params: dict) -> dict:
    """Run one measuring module in its own process (its own settings module) and return its JSON."""
    result = subprocess.run(
        [PYTHON, "-m", module],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": settings, "LOG_LEVEL": "WARNING"},
        input=json.dumps(params),
        capture_output=True,
        text=True,
        timeout=SECTION_TIMEOUT,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise RuntimeError(f"{module} failed with exit code {result.returncode}")
    return json.loads(result.stdout)


def write_verifying_key(stack: Stack, access: str, path: Path) -> Path:
    """The issuer's published key that signed `access`, as a PEM file for simplejwt's VERIFYING_KEY."""
    import jwt
    from cryptography.hazmat.primitives import serialization

    kid = jwt.get_unverified_header(access)["kid"]
    jwks = requests.get(f"{stack.internal['issuer']}/.well-known/jwks.json", timeout=10).json()
    jwk = next(key for key in jwks["keys"] if key["kid"] == kid)
    public_key = jwt.PyJWK(jwk, algorithm="RS256").key
    path.write_bytes(
        public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


def postgres_reachable() -> bool:
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as connection:
            connection.execute("select 1")
        return True
    except psycopg.Error as e:  # no server: the PostgreSQL row says skipped
        log(f"PostgreSQL not used ({type(e).__name__})")
        return False


def postgres_sections(stack: Stack, quick: bool) -> tuple[dict | None, dict | None]:
    """Section (c) again and section (h), with the issuer on a temporary PostgreSQL database (the production
    profile). Returns (refresh costs, throughput), both None without a reachable server."""
    if not postgres_reachable():
        return None, None
    with fresh_postgres_databases(POSTGRES_URL, names=("issuer",)) as database_env:
        pg = dataclasses.replace(stack, env={**stack.env, **database_env}, processes={})
        for command in (["migrate", "--verbosity=0"], ["ensure_signing_key"], ["seed_demo"]):
            pg.manage("issuer", *command)
        costs = run_section(
            "bench.issuer_costs",
            settings="settings.issuer",
            env=pg.env,
            params={
                "username": "bob",
                "password": DEMO_PASSWORD,
                "refresh_rounds": 50 if quick else 200,
                "login_rounds": 0,
            },
        )
        log("(h) issuer throughput under gunicorn on PostgreSQL (2 workers x 4 threads)")
        issuer = pg.start("issuer", workers=2, threads=4)
        try:
            login = clients.Workload("post", "/api/token/", 200, body={"username": "bob", "password": DEMO_PASSWORD})

            def refresh_chains() -> list[clients.Workload]:
                # One sign-on per client and round: each chain starts from a refresh token nobody spent.
                return [
                    clients.Workload(
                        "refresh", "/api/token/refresh/", 200, body={"refresh": pg.token("bob")["refresh"]}
                    )
                    for _ in range(LOAD_CLIENTS)
                ]

            throughput = clients.compare_endpoints(
                pg.internal["issuer"],
                {
                    "noop": lambda: [NOOP_POST] * LOAD_CLIENTS,
                    "refresh": refresh_chains,
                    "login": lambda: [login] * LOAD_CLIENTS,
                },
                rounds=1 if quick else 3,
                seconds=2 if quick else 4,
                server_pid=issuer.pid,
            )
        finally:
            pg.stop_all()
    return costs, throughput


def measure(quick: bool) -> dict:
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="sso-bench-") as tmp:
        data_dir = Path(tmp)
        log("preparing three sites (migrations, signing key, demo data)")
        for name in STORAGE_VARIABLES:
            os.environ.pop(name, None)  # DATABASE_URL and SSO_* are left out by prepare_stack itself
        stack = prepare_stack(data_dir)
        try:
            stack.start("issuer", workers=1)
            # Two sync workers (the reference setup of the issue): a sync worker serves one connection at a
            # time and closes it, so wrk's connections spread evenly. With threaded workers and keep-alive, the
            # 32 connections land on the two workers unevenly, differently each run, and throughput swings by
            # a factor of three from one round to the next whatever the endpoint.
            orders = stack.start("orders", workers=2, threads=1)
            stack.start("products", workers=1)

            log("(a)(f) verification costs and steady-state counts, in a relying-app process")
            access = stack.token("bob")["access"]
            key_file = write_verifying_key(stack, access, data_dir / "issuer-public.pem")
            results["verification"] = run_section(
                "bench.verification",
                settings="bench.settings_simplejwt",
                env={**stack.env, "BENCH_SIMPLEJWT_VERIFYING_KEY_FILE": str(key_file)},
                params={"token": access, "requests": 2_000 if quick else 10_000},
            )

            if load.wrk_path():
                log("(b) load: wrk against orders (gunicorn, 2 sync workers)")
                access = stack.token("bob")["access"]
                results["load"] = load.compare(
                    stack.internal["orders"],
                    f"Bearer {access}",
                    server_pid=orders.pid,
                    rounds=3 if quick else 6,
                    seconds=2 if quick else 3,
                    threads=1,
                )
            else:
                log("(b) skipped: wrk is not installed (Debian: apt-get install wrk)")

            log("(j) the OpenID Connect code flow over HTTP, beside a sign-in (bench/oidc_flow.py)")
            results["oidc_flow"] = run_section(
                "bench.oidc_flow",
                settings="settings.orders",
                env=stack.env,
                params={"username": "bob", "password": DEMO_PASSWORD, "rounds": 10 if quick else 30},
            )

            log("(e) revocation propagation (bench/revocation.py)")
            results["revocation"] = measure_revocation_propagation(stack, samples=2 if quick else 3)

            log("(i) password-reset answer time, address with an account or without (bench/reset_timing.py)")
            results["reset_timing"] = measure_reset_timing(stack, samples=50 if quick else 200)

            distinct, total = (1_000, 10_000) if quick else (5_000, 50_000)
            log(f"(g) one relying worker's memory over {total:,} requests with {distinct:,} distinct tokens")
            tokens = run_section(
                "bench.tokens", settings="settings.issuer", env=stack.env, params={"username": "bob", "count": distinct}
            )
            stack.stop("orders")
            orders = stack.start("orders", workers=1, threads=1)
            results["memory"] = measure_relying_memory(
                stack.internal["orders"], orders.pid, tokens, requests=total, clients=LOAD_CLIENTS
            )
        finally:
            stack.stop_all()

        log("(c)(d) refresh and login costs, in an issuer process on SQLite")
        results["issuer"] = run_section(
            "bench.issuer_costs",
            settings="settings.issuer",
            env=stack.env,
            params={
                "username": "bob",
                "password": DEMO_PASSWORD,
                "refresh_rounds": 50 if quick else 200,
                "login_rounds": 3 if quick else 5,
            },
        )
        log("(c)(h) refresh cost and issuer throughput on PostgreSQL, when a server is reachable")
        results["issuer_postgres"], results["issuer_throughput"] = postgres_sections(stack, quick)
    return results


# ---- the table ------------------------------------------------------------------------------------------


# OWASP Password Storage Cheat Sheet: Argon2id with at least 19 MiB of memory, 2 passes, 1 lane.
OWASP_ARGON2ID_MINIMUM = {"memory_cost": 19 * 1024, "time_cost": 2, "parallelism": 1}
# (g): once the verified-token cache is full, the worker's memory may grow by at most this between the
# half-way and the final reading (allocator noise), or the cache is not bounded.
MEMORY_GROWTH_LIMIT = 0.05


def mib(kib: int) -> str:
    return f"{kib / 1024:,.1f} MiB"


def us(value: float) -> str:
    return f"{value:,.1f} µs" if value < 1000 else f"{value / 1000:,.2f} ms"


def ratio(figure: float, reference: float) -> str:
    return f"{figure / reference:.2f}x"


def build_rows(results: dict) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, bool | None, str]]]:
    """Table rows (what, figure, reference, ratio) and target lines (target, met, figure)."""
    rows: list[tuple[str, str, str, str]] = []
    targets: list[tuple[str, bool | None, str]] = []

    v = results["verification"]["verify"]
    raw = v["raw_verify"]
    raw_ref = f"raw RSA-2048 verify {us(raw)}"
    sj = v["simplejwt_authenticate"]
    sj_ref = f"simplejwt stateless {us(sj)}"
    # The cold figures clear the verified-token cache before each call; the clear's own cost is taken off.
    cold = v["verify_cold"] - v["cache_clear"]
    authenticate_cold = v["authenticate_cold"] - v["cache_clear"]
    rows += [
        ("(a) token_verify, cold (first sight of the token)", us(cold), raw_ref, ratio(cold, raw)),
        ("(a) token_verify, warm (verified-token cache)", us(v["verify_warm"]), raw_ref, ratio(v["verify_warm"], raw)),
        ("(a) PyJWT jwt.decode alone, same checks", us(v["pyjwt_decode"]), raw_ref, ratio(v["pyjwt_decode"], raw)),
        ("(a) simplejwt JWTStatelessUserAuthentication", us(sj), raw_ref, ratio(sj, raw)),
        ("(a) SSOAuthentication.authenticate, cold", us(authenticate_cold), sj_ref, ratio(authenticate_cold, sj)),
        (
            "(a) SSOAuthentication.authenticate, warm",
            us(v["authenticate_warm"]),
            sj_ref,
            ratio(v["authenticate_warm"], sj),
        ),
    ]
    targets += [
        ("warm verification <= 1x raw verify", v["verify_warm"] <= raw, ratio(v["verify_warm"], raw)),
        ("cold verification <= 2.0x raw verify", cold <= 2.0 * raw, ratio(cold, raw)),
    ]

    r = results["verification"]["requests"]
    rows.append(
        (
            "(a) one request in-process: GET /api/whoami/",
            us(r["whoami"]),
            f"GET /api/ping/ (no auth) {us(r['ping'])}",
            ratio(r["whoami"], r["ping"]),
        )
    )

    if "load" in results:
        b = results["load"]
        auth, base = b["authenticated"], b["baseline"]
        rows += [
            (
                "(b) gunicorn+wrk: GET /api/whoami/ requests/s",
                f"{auth['rps']:,.0f}/s",
                f"/api/ping/ (no auth) {base['rps']:,.0f}/s",
                f"{b['rps_ratio']:.2f}x",
            ),
            (
                "(b) gunicorn+wrk: p50 latency",
                f"{auth['p50_ms']:.2f} ms",
                f"/api/ping/ {base['p50_ms']:.2f} ms",
                ratio(auth["p50_ms"], base["p50_ms"]),
            ),
            (
                "(b) gunicorn+wrk: p99 latency",
                f"{auth['p99_ms']:.2f} ms",
                f"/api/ping/ {base['p99_ms']:.2f} ms",
                ratio(auth["p99_ms"], base["p99_ms"]),
            ),
        ]
        if auth["cpu_us_per_request"] is not None:
            rows.append(
                (
                    "(b) server CPU time per request",
                    us(auth["cpu_us_per_request"]),
                    f"/api/ping/ {us(base['cpu_us_per_request'])}",
                    ratio(auth["cpu_us_per_request"], base["cpu_us_per_request"]),
                )
            )
        errors = auth["errors"] + base["errors"]
        targets.append(
            (
                "authenticated requests/s >= 0.9x unauthenticated",
                b["rps_ratio"] >= 0.9 and errors == 0,
                f"{b['rps_ratio']:.2f}x" + (f" ({errors} errors or non-2xx)" if errors else ""),
            )
        )
    else:
        targets.append(("authenticated requests/s >= 0.9x unauthenticated", None, "not measured: no wrk"))

    for key, label in (("issuer", "SQLite"), ("issuer_postgres", "PostgreSQL")):
        c = results.get(key)
        if c is None:
            rows.append((f"(c) refresh, {label}", "skipped", "no PostgreSQL server reachable", "-"))
            continue
        refresh, sign, write = c["refresh"]["refresh"], c["refresh"]["raw_sign"], c["refresh"]["write_alone"]
        limit = sign + write
        rows += [
            (
                f"(c) refresh (session_refresh, {label}, {c['refresh_queries']} statements)",
                us(refresh),
                f"raw sign + bare commit {us(limit)}",
                ratio(refresh, limit),
            ),
            (f"(c) raw RSA-2048 sign, {label}", us(sign), "-", "-"),
            (
                f"(c) one-row UPDATE + commit alone, {label}",
                us(write),
                f"raw RSA-2048 sign {us(sign)}",
                ratio(write, sign),
            ),
            (
                f"(c) the same UPDATE + the audit INSERT + commit, {label}",
                us(c["refresh"]["write_with_audit"]),
                f"bare commit {us(write)}",
                ratio(c["refresh"]["write_with_audit"], write),
            ),
        ]
        targets.append(
            (
                f"refresh <= 1.5x (raw sign + bare commit) ({label})",
                refresh <= 1.5 * limit,
                f"{ratio(refresh, limit)}; the sign is {us(sign)}, the commit {us(write)}",
            )
        )

    d = results["issuer"]
    login, hasher, pbkdf2 = d["login"]["login"], d["login"]["hasher"], d["login"]["pbkdf2"]
    rows += [
        (
            "(d) login CPU (credentials_authenticate + session_start)",
            us(login),
            f"hasher alone {us(hasher)}",
            ratio(login, hasher),
        ),
        (
            "(d) login CPU against the hasher logins paid before",
            us(login),
            f"PBKDF2 {d['pbkdf2_iterations']:,} alone {us(pbkdf2)}",
            ratio(login, pbkdf2),
        ),
    ]
    targets.append(("login CPU <= 0.2x the PBKDF2 login of before", login <= 0.2 * pbkdf2, ratio(login, pbkdf2)))
    params = d.get("hasher_params")
    strong = (
        params is not None
        and params["variety"] == "argon2id"
        and all(params[name] >= minimum for name, minimum in OWASP_ARGON2ID_MINIMUM.items())
    )
    targets.append(("hasher Argon2id at least OWASP's minimum (m=19 MiB, t=2, p=1)", strong, d["hasher"]))

    e = results["revocation"]
    for app, worst in e["worst_seconds"].items():
        rows.append(
            (
                f"(e) logout to first 401 at {app}, worst of {e['samples']}",
                "not in time" if worst is None else f"{worst:.2f} s",
                f"revocation interval {e['interval_seconds']:g} s",
                "-" if worst is None else ratio(worst, e["interval_seconds"]),
            )
        )
    targets.append(
        (
            f"revocation reaches every app within the interval plus a second ({e['budget_seconds']:g} s)",
            e["within_budget"],
            ", ".join(f"{app} {'-' if w is None else f'{w:.2f} s'}" for app, w in e["worst_seconds"].items()),
        )
    )

    r = results["reset_timing"]
    rows.append(
        (
            f"(i) password reset, known address, median of {r['samples']}",
            f"{r['known_median_s'] * 1000:.2f} ms",
            f"unknown address {r['unknown_median_s'] * 1000:.2f} ms",
            ratio(r["known_median_s"], r["unknown_median_s"]),
        )
    )
    targets.append(
        (
            f"password reset takes the same time for known and unknown addresses (medians within {r['tolerance']:.0%})",
            r["difference"] <= r["tolerance"],
            f"{r['difference']:.1%} apart",
        )
    )

    j = results["oidc_flow"]
    rows.append(
        (
            "(j) OpenID Connect code flow: authorize + token + ID-token verify",
            us(j["code_flow"]),
            f"sign-in at /login/ {us(j['login'])}",
            ratio(j["code_flow"], j["login"]),
        )
    )

    f = results["verification"]["steady_state"]
    per = f"per {f['requests']:,} requests"
    rows += [
        (f"(f) database queries {per}", str(f["db_queries"]), "target 0", "-"),
        (f"(f) issuer (HTTP) calls on the request path {per}", str(f["http_request_path"]), "target 0", "-"),
        (f"(f) shared-cache calls on the request path {per}", str(f["cache_request_path"]), "target 0", "-"),
        (
            "(f) issuer calls by the background refresher meanwhile",
            str(f["http_background"]),
            f"in {f['seconds']:.1f} s (not per request)",
            "-",
        ),
    ]
    steady_zero = f["db_queries"] == 0 and f["http_request_path"] == 0 and f["cache_request_path"] == 0
    targets.append(
        (
            "zero queries and network calls per authenticated request",
            steady_zero and f["failures"] == 0,
            f"{f['db_queries']} queries, {f['http_request_path']} HTTP, {f['cache_request_path']} cache calls "
            f"in {f['requests']:,} requests ({f['failures']} failed)",
        )
    )

    g = results.get("memory")
    if g is not None:
        rss = g["rss_kib"]
        growth = (rss["end"] - rss["half"]) / rss["half"]
        rows += [
            ("(g) relying worker RSS after a warm-up", mib(rss["warm"]), "-", "-"),
            (
                f"(g) ... after {g['requests'] // 2:,} requests",
                mib(rss["half"]),
                f"warm-up {mib(rss['warm'])}",
                ratio(rss["half"], rss["warm"]),
            ),
            (
                f"(g) ... after {g['requests']:,} requests, {g['distinct_tokens']:,} distinct tokens",
                mib(rss["end"]),
                f"half-way {mib(rss['half'])}",
                ratio(rss["end"], rss["half"]),
            ),
        ]
        targets.append(
            (
                f"relying worker memory bounded (growth over the second half <= {MEMORY_GROWTH_LIMIT:.0%})",
                growth <= MEMORY_GROWTH_LIMIT and g["errors"] == 0,
                f"{growth:+.1%}, {mib(rss['end'])} after {g['requests']:,} requests ({g['errors']} errors)",
            )
        )

    h = results.get("issuer_throughput")
    if h is None:
        rows.append(("(h) issuer throughput, PostgreSQL", "skipped", "no PostgreSQL server reachable", "-"))
    else:
        noop = h["noop"]
        for name in ("refresh", "login"):
            figures = h[name]
            rows += [
                (
                    f"(h) gunicorn, PostgreSQL: POST {name} requests/s",
                    f"{figures['rps']:,.0f}/s",
                    f"no-op POST {noop['rps']:,.0f}/s",
                    ratio(figures["rps"], noop["rps"]),
                ),
                (
                    f"(h) gunicorn, PostgreSQL: {name} p99 latency",
                    f"{figures['p99_ms']:.1f} ms",
                    f"no-op POST {noop['p99_ms']:.1f} ms",
                    ratio(figures["p99_ms"], noop["p99_ms"]),
                ),
            ]
        errors = sum(h[name]["errors"] for name in ("noop", "refresh", "login"))
        rows.append(("(h) unexpected answers under load", str(errors), "target 0", "-"))
        targets.append(
            (
                "the issuer under load answers every refresh and login as expected",
                errors == 0,
                f"{errors} unexpected answers in {sum(h[n]['requests'] for n in ('noop', 'refresh', 'login')):,}",
            )
        )
    return rows, targets


def machine_line(command: str) -> str:
    today = datetime.date.today().isoformat()
    return f"{command}, {today}, {platform.machine()} with {os.cpu_count()} CPUs, Python {platform.python_version()}"


def report(results: dict, elapsed: float, command: str) -> tuple[list[str], dict]:
    """The printed report's lines, and the same table as data for --json."""
    rows, targets = build_rows(results)
    header = ("measure", "figure", "reference", "ratio")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]

    def line(cells) -> str:
        return "  ".join(
            [cells[0].ljust(widths[0]), cells[1].rjust(widths[1]), cells[2].ljust(widths[2]), cells[3].rjust(widths[3])]
        )

    lines = [machine_line(command), line(header), line(["-" * w for w in widths]), *map(line, rows), ""]
    issuer = results["issuer"]
    notes = [f"hasher: {issuer['hasher']}; refresh statements (SQLite): {', '.join(issuer['refresh_statements'])}"]
    if results.get("issuer_postgres"):
        notes.append(f"refresh statements (PostgreSQL): {', '.join(results['issuer_postgres']['refresh_statements'])}")
    if "load" in results:
        s = results["load"]["settings"]
        notes.append(
            f"load: wrk {s['wrk_threads']} thread(s), {s['connections']} connections, {s['rounds']} rounds of "
            f"{s['seconds_per_run']:g} s per endpoint, order alternating; figures are medians over the rounds"
        )
    if results.get("issuer_throughput"):
        s = results["issuer_throughput"]["settings"]
        notes.append(
            f"issuer load (h): {s['clients']} client processes (bench/clients.py), {s['rounds']} round(s) of "
            f"{s['seconds_per_run']:g} s per endpoint, order rotating; figures are medians over the rounds"
        )
    notes.append(f"run took {elapsed:.0f} s")
    verdicts = [
        (target, "not measured" if met is None else ("met" if met else "NOT MET"), figure)
        for target, met, figure in targets
    ]
    lines += [*notes, "", *(f"target {target}: {verdict} ({figure})" for target, verdict, figure in verdicts)]
    table = {
        "run": machine_line(command),
        "rows": [dict(zip(header, row, strict=True)) for row in rows],
        "notes": notes,
        "targets": [{"target": target, "verdict": verdict, "figure": figure} for target, verdict, figure in verdicts],
    }
    return lines, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (for trying the benchmark out)")
    parser.add_argument("--json", type=Path, help="also write the raw results and the table to this file")
    args = parser.parse_args()
    command = "bench/run.py" + (" --quick" if args.quick else "")
    started = time.monotonic()
    results = measure(args.quick)
    lines, table = report(results, time.monotonic() - started, command)
    if args.json:
        args.json.write_text(json.dumps({**results, "table": table}, indent=2))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
