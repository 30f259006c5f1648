"""The DRF exception handler of a relying site: stable, generic error bodies ({"detail", "code"})."""

from typing import Any

from rest_framework.views import exception_handler


def api_exception_handler(exc: Exception, context: dict[str, Any]):
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(response.data, dict) and "detail" in response.data and "code" not in response.data:
        codes = exc.get_codes() if hasattr(exc, "get_codes") else None
        response.data["code"] = codes if isinstance(codes, str) else "error"
    return response
