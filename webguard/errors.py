"""One exception handler for every site: stable, generic error bodies ({"detail", "code"}). Its home is the
installable sso_client package (a relying site outside this repository needs it too); the issuer uses it
from there."""

from sso_client.api_errors import api_exception_handler

__all__ = ["api_exception_handler"]
