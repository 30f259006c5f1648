"""The script page: plain JavaScript signs on the way a single-page app would. It asks the issuer for a
Bearer token with a credentialed CORS call (the issuer answers from its refresh cookie), then lists the
person's orders (this origin) and the products (another origin, so a CORS preflight) with that token."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET


@require_GET
def script_page(request: HttpRequest) -> HttpResponse:
    # A refusal (an app answering 401 or 403 to the token) names the person, the app and the way on, as the
    # issuer's "No access to ..." page does.
    config = {
        "tokenUrl": f"{settings.SSO_ISSUER_URL}/session/token/",
        "issuerHome": f"{settings.SSO_ISSUER_URL}/",
        "signInUrl": f"{settings.SSO_ISSUER_URL}/login/",
        "signOutUrl": f"{settings.SSO_ISSUER_URL}/logout/",
        "ordersUrl": f"{settings.ORDERS_URL}/api/orders/",
        "productsUrl": f"{settings.PRODUCTS_URL}/api/products/",
    }
    # No inline script: the code is a static file and its configuration a JSON block (json_script), so the
    # sites' Content-Security-Policy (script-src 'self'; connect-src the configured sites) holds here too.
    return render(request, "orders/script.html", {"config": config})
