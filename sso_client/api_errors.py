"""The DRF exception handler of a relying site: stable, generic error bodies ({"detail", "code"})."""

from typing import Any


def api_exception_handler(exc: Exception, context: dict[str, Any]):
    # Imported here: rest_framework.views reads DEFAULT_RENDERER_CLASSES as it loads, which may name this
    # package's renderer, whose pages import this module (a site's urls.py importing sso_client.access first).
    from rest_framework.views import exception_handler

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(response.data, dict) and "detail" in response.data and "code" not in response.data:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        response.data["code"] = codes if isinstance(codes, str) else "error"
    return response
