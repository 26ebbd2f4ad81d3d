"""WSGI entry point for gunicorn: ``gunicorn popsite.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popsite.settings")

application = get_wsgi_application()

# numpy loads numpy.ma on the first np.median (about 30 ms), which every forecast calls: a
# worker pays it while it boots, not on its first request.
import numpy.ma  # noqa: E402, F401
