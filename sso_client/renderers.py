"""DRF's browsable API at a relying app, showing who is signed in and a sign-out link to the issuer."""

from typing import Any

from django.conf import settings
from rest_framework.renderers import BrowsableAPIRenderer

from .browser import sign_in_url, sign_out_url


class SSOBrowsableAPIRenderer(BrowsableAPIRenderer):
    """The browsable API with the signed-in user (username, roles) and sign-in/sign-out links to the issuer."""

    template = "sso_client/api.html"

    def get_context(self, data: Any, accepted_media_type: str, renderer_context: dict[str, Any]) -> dict[str, Any]:
        context = super().get_context(data, accepted_media_type, renderer_context)
        request = renderer_context["request"]
        context.update(
            sso_site_name=getattr(settings, "SITE_NAME", ""),
            sso_sign_in_url=sign_in_url(request),
            sso_sign_out_url=sign_out_url(request),
        )
        return context
