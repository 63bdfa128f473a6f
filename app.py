"""The gunicorn target (`gunicorn app:app`)."""

from prmonitor import create_app

app = create_app()
