"""products' manage.py commands: seeding the demo catalogue."""
