"""The gunicorn target (`gunicorn app:app`)."""

from prmonitor.cli import wsgi_app

app = wsgi_app()
