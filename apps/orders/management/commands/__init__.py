"""orders' manage.py commands: expiring unpaid pending orders."""
