#!/usr/bin/env python
"""Django's command-line utility. DJANGO_SETTINGS_MODULE defaults to settings.issuer; --settings picks a site."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.issuer")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
