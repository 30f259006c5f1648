"""`make run`: prepare the three sites (migrations, signing key, demo data) and serve them in the
foreground with prefixed logs. Ctrl-C or SIGTERM stops all three.

The relying sites reach the issuer, and orders reaches products, on loopback (SSO_ISSUER_INTERNAL_URL,
PRODUCTS_INTERNAL_URL, unless set): with public names such as sso.example.test only the browser has to
resolve them, not the servers."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
SITES = [("issuer", 8000), ("orders", 8001), ("products", 8002)]
COLOURS = {"issuer": "\033[36m", "orders": "\033[33m", "products": "\033[35m"}


def manage(site: str, *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args, f"--settings=settings.{site}"], cwd=ROOT, check=True)


def prepare() -> None:
    for site, _port in SITES:
        manage(site, "migrate", "--verbosity=0")
    manage("issuer", "ensure_signing_key")
    manage("issuer", "seed_demo")
    manage("products", "seed_products")


def relay(site: str, stream) -> None:
    prefix = f"{COLOURS[site]}[{site:8}]\033[0m " if sys.stdout.isatty() else f"[{site:8}] "
    for line in iter(stream.readline, ""):
        sys.stdout.write(prefix + line)
        sys.stdout.flush()


def site_env() -> dict[str, str]:
    """The environment the three servers run in: the caller's, with the servers' own calls kept on loopback."""
    loopback = {"SSO_ISSUER_INTERNAL_URL": "http://127.0.0.1:8000", "PRODUCTS_INTERNAL_URL": "http://127.0.0.1:8002"}
    chosen = {name: os.environ.get(name) or default for name, default in loopback.items()}
    return {**os.environ, **chosen, "PYTHONUNBUFFERED": "1"}


def banner() -> str:
    """Where to start, who to sign in as and with which password, and how to start over."""
    from settings import issuer as conf  # the configured origins and the demo password, read the one way

    return "\n".join(
        [
            "",
            "Serving (Ctrl-C stops all three):",
            f"  issuer    {conf.SSO_ISSUER_URL}/   start here: sign in, see your apps",
            f"  orders    {conf.ORDERS_URL}/   the orders API in the browser",
            f"  products  {conf.PRODUCTS_URL}/   the product catalogue",
            f'Demo accounts, all with the password "{conf.DEMO_PASSWORD}":',
            "  alice  staff and superuser: every app and the admin",
            "  bob    a customer: orders and products",
            "  carol  catalogue manager: products only",
            "Start over with fresh demo data: stop, then `make reset` and `make run`.",
            "",
        ]
    )


def serve() -> int:
    processes = []
    welcome = banner()  # first: reading the settings also reads a developer's .env into the environment
    env = site_env()
    for site, port in SITES:
        process = subprocess.Popen(
            [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", f"--settings=settings.{site}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,  # its own process group, so stopping it stops the autoreloader's child too
        )
        threading.Thread(target=relay, args=(site, process.stdout), daemon=True).start()
        processes.append(process)

    stopping = threading.Event()

    def stop(signum=None, frame=None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(welcome, flush=True)
    while not stopping.wait(0.5):
        if any(process.poll() is not None for process in processes):
            print("A site exited; stopping the others.")
            break
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    prepare()
    sys.exit(serve())
