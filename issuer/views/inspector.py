"""The token inspector's staff page: paste a token, see what it says and whether and why it verifies.
The token goes to this issuer only (a POST over the issuer's own origin), never to a third-party website."""

from django import forms
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ..services.inspector import KINDS, MAX_TOKEN_BYTES, token_inspect


class InspectForm(forms.Form):
    token = forms.CharField(
        max_length=MAX_TOKEN_BYTES,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80, "spellcheck": "false", "autocomplete": "off"}),
    )
    audience = forms.SlugField(max_length=50, required=False, help_text="Check for one app only (optional).")
    expected_type = forms.ChoiceField(
        choices=[("", "whatever it claims to be"), *((kind, kind) for kind in KINDS)],
        required=False,
        label="Expected type",
    )


@never_cache
@staff_member_required
@require_http_methods(["GET", "POST"])
def inspect_page(request: HttpRequest) -> HttpResponse:
    """Staff only. POST, so the token is never in a URL, a log line or the browser's history."""
    form = InspectForm(request.POST or None)
    inspection = None
    if request.method == "POST" and form.is_valid():
        inspection = token_inspect(
            form.cleaned_data["token"],
            audience=form.cleaned_data["audience"] or None,
            expected_type=form.cleaned_data["expected_type"] or None,
        )
    context = {**admin.site.each_context(request), "title": "Inspect a token", "form": form, "inspection": inspection}
    return render(request, "issuer/inspect.html", context)
