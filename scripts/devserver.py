"""`make run`: prepare the three sites (migrations, signing key, demo data) and serve them in the
foreground with prefixed logs. Ctrl-C or SIGTERM stops all three."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def serve() -> int:
    processes = []
    for site, port in SITES:
        process = subprocess.Popen(
            [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", f"--settings=settings.{site}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,  # its own process group, so stopping it stops the autoreloader's child too
        )
        threading.Thread(target=relay, args=(site, process.stdout), daemon=True).start()
        processes.append(process)

    stopping = threading.Event()

    def stop(signum=None, frame=None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(
        "Serving issuer http://localhost:8000  orders http://localhost:8001  products http://localhost:8002  (Ctrl-C stops)"
    )
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
