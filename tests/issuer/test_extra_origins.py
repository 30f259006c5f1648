"""A further relying app is added by configuration alone: SSO_EXTRA_RELYING_ORIGINS."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRINT_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings; "
    "from issuer.services.browser import redirect_target; "
    "print(json.dumps({'hosts': settings.ALLOWED_HOSTS, 'cors': settings.CORS_ALLOWED_ORIGINS, "
    "'next': redirect_target('http://invoices.example.test:8003/api/'), "
    "'foreign': redirect_target('http://evil.example.test:8003/')}))"
)


def test_an_extra_relying_origin_is_allowed_everywhere_it_must_be():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "settings.issuer",
        "SSO_EXTRA_RELYING_ORIGINS": "http://invoices.example.test:8003/",
    }
    result = subprocess.run([sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert "invoices.example.test" in seen["hosts"]
    assert "http://invoices.example.test:8003" in seen["cors"]
    assert seen["next"] == "http://invoices.example.test:8003/api/"
    assert not seen["foreign"].startswith("http://evil.example.test")
