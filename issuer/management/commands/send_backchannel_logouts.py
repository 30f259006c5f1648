"""Deliver the back-channel logout notices that are due (for cron; sign-outs also start a pass themselves)."""

from django.core.management.base import BaseCommand

from issuer.services.backchannel import backchannel_logouts_deliver


class Command(BaseCommand):
    help = (
        "POST the logout tokens owed to clients' back-channel logout URIs that are due now (new ones left by a "
        "process that ended, and retries). Harmless to run from cron every minute, from several hosts at once."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Delivered: {backchannel_logouts_deliver()}")
