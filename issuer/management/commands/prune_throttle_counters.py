"""`manage.py prune_throttle_counters`: delete security counters whose windows have closed. Safe to run from
cron at any time and from several hosts at once (each deletes what is expired); sign-on also prunes as it
goes, so this only keeps the table small on an issuer that sees few new counters."""

from django.core.management.base import BaseCommand

from issuer.services import throttles


class Command(BaseCommand):
    help = "Delete login-throttle and reset-mail counters whose windows have closed."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Pruned {throttles.counters_prune()} expired counters.")
