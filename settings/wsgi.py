"""WSGI entry point for every site; DJANGO_SETTINGS_MODULE picks which (settings.issuer by default)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.issuer")
application = get_wsgi_application()
