"""`make bench`: one run, one table. Every figure stands beside the reference it is measured against and
the ratio between them, because absolute times drift from machine to machine and minute to minute.

The run starts its own three sites under gunicorn on free loopback ports with temporary databases (the
helpers in tests/servers.py), measures, stops every server it started by its process id, and prints:

(a) token verification at a relying app, cold and warm, against a raw RSA-2048 verify and simplejwt
(b) requests/s and latency of an authenticated endpoint against the same server's unauthenticated one (wrk)
(c) a refresh at the issuer, database write included, against a raw RSA-2048 sign
(d) a login against the password hasher alone
(e) how long a logout takes to reach the relying apps
(f) database queries, shared-cache calls and issuer calls per 10,000 authenticated requests

then one line per target, met or not met. Options: --quick (shorter runs, for trying it out), --json FILE
(the raw figures too). BENCH_POSTGRES_URL names the PostgreSQL server for the second refresh figure."""

import argparse
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

from bench import load  # noqa: E402
from bench.revocation import measure_revocation_propagation  # noqa: E402
from tests.servers import DEMO_PASSWORD, PYTHON, Stack, fresh_postgres_databases, prepare_stack  # noqa: E402

POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SECTION_TIMEOUT = 300
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


def refresh_on_postgres(stack: Stack, rounds: int) -> dict | None:
    """Section (c) again with the issuer on a temporary PostgreSQL database (the production profile)."""
    if not postgres_reachable():
        return None
    with fresh_postgres_databases(POSTGRES_URL, names=("issuer",)) as database_env:
        env = {**stack.env, **database_env}
        for command in (["migrate", "--verbosity=0"], ["ensure_signing_key"], ["seed_demo"]):
            subprocess.run(
                [PYTHON, "manage.py", *command, "--settings=settings.issuer"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                check=True,
                timeout=SECTION_TIMEOUT,
            )
        return run_section(
            "bench.issuer_costs",
            settings="settings.issuer",
            env=env,
            params={"username": "bob", "password": DEMO_PASSWORD, "refresh_rounds": rounds, "login_rounds": 0},
        )


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

            log("(e) revocation propagation (bench/revocation.py)")
            results["revocation"] = measure_revocation_propagation(stack, samples=2 if quick else 3)
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
        log("(c) refresh cost on PostgreSQL, when a server is reachable")
        results["issuer_postgres"] = refresh_on_postgres(stack, 50 if quick else 200)
    return results


# ---- the table ------------------------------------------------------------------------------------------


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
    rows += [
        (
            "(a) token_verify, cold (first sight of the token)",
            us(v["verify_cold"]),
            raw_ref,
            ratio(v["verify_cold"], raw),
        ),
        ("(a) token_verify, warm (verified-token cache)", us(v["verify_warm"]), raw_ref, ratio(v["verify_warm"], raw)),
        ("(a) PyJWT jwt.decode alone, same checks", us(v["pyjwt_decode"]), raw_ref, ratio(v["pyjwt_decode"], raw)),
        ("(a) simplejwt JWTStatelessUserAuthentication", us(sj), raw_ref, ratio(sj, raw)),
        (
            "(a) SSOAuthentication.authenticate, cold",
            us(v["authenticate_cold"]),
            sj_ref,
            ratio(v["authenticate_cold"], sj),
        ),
        (
            "(a) SSOAuthentication.authenticate, warm",
            us(v["authenticate_warm"]),
            sj_ref,
            ratio(v["authenticate_warm"], sj),
        ),
    ]
    targets += [
        ("warm verification <= 1x raw verify", v["verify_warm"] <= raw, ratio(v["verify_warm"], raw)),
        ("cold verification <= 2.5x raw verify", v["verify_cold"] <= 2.5 * raw, ratio(v["verify_cold"], raw)),
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
        rows += [
            (
                f"(c) refresh (session_refresh, {label}, {c['refresh_queries']} statements)",
                us(refresh),
                f"raw RSA-2048 sign {us(sign)}",
                ratio(refresh, sign),
            ),
            (
                f"(c) one-row UPDATE + commit alone, {label}",
                us(write),
                f"raw RSA-2048 sign {us(sign)}",
                ratio(write, sign),
            ),
        ]
        targets.append(
            (
                f"refresh <= 2x raw sign ({label})",
                refresh <= 2 * sign,
                f"{ratio(refresh, sign)}; the commit alone is {ratio(write, sign)}",
            )
        )

    d = results["issuer"]
    rows.append(
        (
            "(d) login (credentials_authenticate + session_start)",
            us(d["login"]["login"]),
            f"hasher alone {us(d['login']['hasher'])}",
            ratio(d["login"]["login"], d["login"]["hasher"]),
        )
    )

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
    return rows, targets


def print_report(results: dict, elapsed: float) -> None:
    rows, targets = build_rows(results)
    header = ("measure", "figure", "reference", "ratio")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]

    def line(cells) -> str:
        return "  ".join(
            [cells[0].ljust(widths[0]), cells[1].rjust(widths[1]), cells[2].ljust(widths[2]), cells[3].rjust(widths[3])]
        )

    today = datetime.date.today().isoformat()
    print(f"make bench, {today}, {platform.machine()} with {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(line(header))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    print()
    issuer = results["issuer"]
    print(f"hasher: {issuer['hasher']}; refresh statements (SQLite): {', '.join(issuer['refresh_statements'])}")
    if "load" in results:
        s = results["load"]["settings"]
        print(
            f"load: wrk {s['wrk_threads']} thread(s), {s['connections']} connections, {s['rounds']} rounds of "
            f"{s['seconds_per_run']:g} s per endpoint, order alternating; figures are medians over the rounds"
        )
    print(f"run took {elapsed:.0f} s")
    print()
    for target, met, figure in targets:
        verdict = "not measured" if met is None else ("met" if met else "NOT MET")
        print(f"target {target}: {verdict} ({figure})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (for trying the benchmark out)")
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    args = parser.parse_args()
    started = time.monotonic()
    results = measure(args.quick)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print_report(results, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
