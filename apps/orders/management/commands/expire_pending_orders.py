"""`manage.py expire_pending_orders --settings=settings.orders`: give back the stock of pending orders left
unpaid past ORDERS_PENDING_EXPIRY_SECONDS. Safe for cron, and for two runs at once (apps.orders.services
.orders_expire locks each order); orders products could not be reached for stay pending for the next run. It
also confirms at products the reservations of orders whose confirmation did not get through, before products'
grace period gives their stock back."""

from django.core.management.base import BaseCommand

from apps.orders import services


class Command(BaseCommand):
    help = (
        "Expire pending orders older than ORDERS_PENDING_EXPIRY_SECONDS and release their stock; confirm the "
        "reservations of orders products has not heard back about."
    )

    def handle(self, *args, **options) -> None:
        if confirmed := services.orders_confirm():
            self.stdout.write(f"Confirmed the reservations of {confirmed} orders.")
        self.stdout.write(f"Expired {services.orders_expire()} pending orders.")
