"""`manage.py release_stale_reservations --settings=settings.products`: put back the stock of reservations
neither confirmed nor released within PRODUCTS_RESERVATION_GRACE_SECONDS (their order was never saved, or its
service never learned the outcome). Safe for cron, and for two runs at once: running again releases nothing
more (apps.products.services.reservations_release_stale)."""

from django.core.management.base import BaseCommand

from apps.products import services


class Command(BaseCommand):
    help = "Release reservations neither confirmed nor released within PRODUCTS_RESERVATION_GRACE_SECONDS."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Released {services.reservations_release_stale()} stale reservations.")
