"""gunicorn's configuration for every site; gunicorn reads ./gunicorn.conf.py by itself. One process set per
site, the site chosen by DJANGO_SETTINGS_MODULE:

    DJANGO_SETTINGS_MODULE=settings.orders GUNICORN_BIND=127.0.0.1:8001 gunicorn settings.wsgi

Values come from the environment (.env.example lists them); command-line options override them."""

import multiprocessing
import os
import shutil
import tempfile

from gunicorn import glogging

from settings.env import env
from webguard.log_masking import mask_reset_tokens

bind = env.list("GUNICORN_BIND", default=["127.0.0.1:8000"])
# Verification is CPU-bound but cached and short; threads cover the waits (database, the issuer's JWKS).
workers = env.int("GUNICORN_WORKERS", default=min(2 * multiprocessing.cpu_count() + 1, 8))
threads = env.int("GUNICORN_THREADS", default=4)
timeout = env.int("GUNICORN_TIMEOUT", default=30)
graceful_timeout = env.int("GUNICORN_GRACEFUL_TIMEOUT", default=20)
keepalive = env.int("GUNICORN_KEEPALIVE", default=5)

# An 8 KB token (the most a relying app accepts) plus "Bearer " must fit in one header; anything larger is
# refused here with 431 before Django parses it.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 16384

# Access log: off unless GUNICORN_ACCESS_LOG names a file or "-" (stdout). Its format leaves out what can
# carry a secret: the query string, the referrer (which may hold one) and the Authorization header (%(u)s
# would decode a Basic user name). Tokens travel in headers and cookies only, never in the logged path.
accesslog = env.str("GUNICORN_ACCESS_LOG", default="") or None
# The one secret a path can carry is a password-reset link's token (/password-reset/<token>/): masked, by the
# same rule as Django's own request logs (webguard.log_masking).


class AccessLogger(glogging.Logger):
    """gunicorn's logger, with password-reset tokens masked in the logged path and request line."""

    def atoms(self, resp, req, environ, request_time):  # noqa: ANN001, ANN201  (gunicorn's signature)
        atoms = super().atoms(resp, req, environ, request_time)
        for name in ("U", "r"):
            if isinstance(atoms.get(name), str):
                atoms[name] = mask_reset_tokens(atoms[name])
        return atoms


logger_class = AccessLogger
# The request id (the response's X-Request-ID, webguard.request_id) ties a line to the site's own log lines.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s" request_id=%({x-request-id}o)s'
errorlog = "-"
loglevel = env.str("GUNICORN_LOG_LEVEL", default="info")

# gunicorn's runtime control socket defaults to one path per user, which the three sites' process sets
# would share (and fight over); it is off unless a deployment names a socket of its own.
control_socket = env.str("GUNICORN_CONTROL_SOCKET", default="") or "gunicorn.ctl"
control_socket_disable = not env.str("GUNICORN_CONTROL_SOCKET", default="")

# Metrics from every worker (webguard.metrics): prometheus-client's multiprocess mode, each worker counting
# into its own file in this directory and a scrape summing them all. A directory of this run's own, made before
# anything imports prometheus-client (it reads the variable once, at import): files left by an earlier run
# would add that run's counts to this one's.
metrics_dir = tempfile.mkdtemp(prefix="sso-metrics-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir


def child_exit(server, worker) -> None:
    """A worker is gone: its counts stay in the sum (counters never go back), its live gauges leave it."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, metrics_dir)


def on_exit(server) -> None:
    shutil.rmtree(metrics_dir, ignore_errors=True)


def on_starting(server) -> None:
    """Run Django's system checks before serving (the deployment checks too when the origins are HTTPS): a
    production misconfiguration such as a weak secret, DEBUG, an HS algorithm or a wildcard origin stops
    gunicorn here rather than being served."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.issuer")  # as settings/wsgi.py does
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    call_command("check", deploy=settings.HTTPS, fail_level="ERROR")
