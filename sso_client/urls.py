"""URLs every relying app serves through sso_client (included by each app's urls.py)."""

urlpatterns: list = []
