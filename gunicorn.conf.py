"""gunicorn's settings for the Procfile's `web` (gunicorn reads ./gunicorn.conf.py by itself):
the ones `prmonitor serve` uses, bound to 0.0.0.0:$PORT as Heroku's router expects. The worker
count is WEB_CONCURRENCY's, which gunicorn reads itself."""

import os

from prmonitor.server import settings

globals().update(settings())
bind = f"0.0.0.0:{os.environ.get('PORT', '3000')}"
