"""orders' manage.py commands (Django finds them under commands/)."""
