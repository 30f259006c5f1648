"""DRF's browsable API at a relying app, in the issuer's look: the app, who is signed in, the way back to the
issuer and to the other apps, a script that renews the access cookie before it expires, and forms that stay
what they were for."""

import re
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from rest_framework import status
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.views import get_view_description

from .pages import page_context


def _paragraph(text: str) -> SafeString:
    # Text and `code` alternate between backticks; an odd one out leaves the paragraph as plain text.
    pieces = text.split("`")
    if len(pieces) % 2 == 0:
        return format_html("<p>{}</p>", text)
    spans = format_html_join("", "{}<code>{}</code>", zip(pieces[0::2], pieces[1::2], strict=False))
    return format_html("<p>{}{}</p>", spans, pieces[-1])


def view_description(view: Any, html: bool = False) -> str | SafeString:
    """DRF's VIEW_DESCRIPTION_FUNCTION: the docstring as plain text, or for the page as paragraphs with
    `code` spans set as code. format_html escapes every piece, so a docstring cannot inject markup."""
    text = get_view_description(view, html=False)
    if not html:
        return text
    paragraphs = (" ".join(part.split()) for part in re.split(r"\n\s*\n", text))
    return format_html_join("", "{}", ((_paragraph(part),) for part in paragraphs if part))


class SSOBrowsableAPIRenderer(BrowsableAPIRenderer):
    """The browsable API with the relying pages' bar (sso_client/_bar.html) and the issuer's design."""

    template = "sso_client/api.html"

    def get_context(self, data: Any, accepted_media_type: str, renderer_context: dict[str, Any]) -> dict[str, Any]:
        context = super().get_context(data, accepted_media_type, renderer_context)
        context.update(page_context(renderer_context["request"]))
        return context

    def get_rendered_html_form(self, data: Any, view: Any, method: str, request: Any) -> Any:
        # After a successful POST the answer is the created object, and DRF would build the next POST form
        # from that object's (output) serializer ("Owner username / Status"), which cannot be posted. A
        # fresh create form instead; a refused POST (400) keeps its filled form with the errors.
        response = self.renderer_context.get("response")
        if method == request.method == "POST" and response is not None and status.is_success(response.status_code):
            data = None
        return super().get_rendered_html_form(data, view, method, request)
