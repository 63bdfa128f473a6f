"""prmonitor: a GitHub App that tracks every workflow run and job of every pull request."""

import logging
import sys

from flask import Flask, jsonify, render_template, request
from peewee import InterfaceError, OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from prmonitor.config import Config, ConfigError
from prmonitor.storage import db
from prmonitor.web import auth
from prmonitor.webhooks.receiver import MAX_BODY_BYTES

log = logging.getLogger(__name__)


def create_app(config=None):
    """The WSGI app: webhooks, the JSON API and the dashboard over DATABASE_URL."""
    config = config or _config_or_exit()
    configure_logging(config.log_level)
    app = Flask(__name__)
    # Heroku's router (and most load balancers) end TLS and say so in X-Forwarded-Proto: the
    # URLs the app builds (the App manifest's) and its cookies' Secure flag follow it.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1)
    app.config["PRMONITOR"] = config
    # One byte more than GitHub ever sends, so that the receiver can tell a chunked body over
    # the limit (which carries no Content-Length) from one at it.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    db.init_app(app, config.database_url)
    auth.init_app(app, config)
    _init_errors(app)

    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    return app


def blueprints():
    """Every route of the app, by concern: webhooks, the JSON API, the dashboard, App set-up."""
    from prmonitor.web import api, auth, dashboard, github_login, manifest
    from prmonitor.webhooks import receiver

    return [receiver.bp, api.bp, auth.bp, github_login.bp, dashboard.bp, manifest.bp]


def _config_or_exit():
    """Config from the environment; a bad setting ends start-up with one line naming it."""
    try:
        return Config.from_env()
    except ConfigError as exc:
        print(f"prmonitor: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def configure_logging(level):
    """key=value log lines on stderr; `level` (LOG_LEVEL) for prmonitor's own loggers."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    logging.getLogger("prmonitor").setLevel(level)


def _init_errors(app):
    """JSON errors under /api/, 503 while the database is unavailable, 413 past 25 MB."""

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _http_error(exc):
        if request.path.startswith("/api/"):
            return jsonify({"success": False, "error": exc.description}), exc.code
        if exc.code == 404:
            message = "No tracked pull request or page is at this address."
            return render_template("not_found.html", message=message), 404
        return exc

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_unavailable(exc):
        log.warning("database unavailable path=%s error=%s", request.path, type(exc).__name__)
        body = {"success": False, "ok": False, "error": "database unavailable"}
        return jsonify(body), 503

    @app.errorhandler(413)
    def _too_large(exc):
        return jsonify({"success": False, "ok": False, "error": "payload larger than 25 MB"}), 413
