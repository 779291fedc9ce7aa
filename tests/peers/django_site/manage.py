#!/usr/bin/python3
"""manage.py of the test Django site (tests/peers/django_site)."""
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jwtpeer.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
