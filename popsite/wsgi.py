"""WSGI entry point for gunicorn: ``gunicorn popsite.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popsite.settings")

application = get_wsgi_application()
