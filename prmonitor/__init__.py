"""prmonitor: a GitHub App that tracks every workflow run and job of every pull request."""

import hmac
import logging
import sys
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from peewee import InterfaceError, OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from prmonitor.config import Config, ConfigError
from prmonitor.storage import db

log = logging.getLogger(__name__)

# Paths that stay open when API_TOKEN is set: GitHub signs its deliveries instead, load
# balancers probe /healthz without credentials, and GitHub's redirect back to /setup/callback
# (cross-site: the token's SameSite=Strict cookie stays behind) is checked by its state cookie.
OPEN_PATHS = ("/api/github/webhooks", "/healthz", "/static/", "/setup/callback")


def create_app(config=None):
    """The WSGI app: webhooks, the JSON API and the dashboard over DATABASE_URL."""
    config = config or _config_or_exit()
    configure_logging(config.log_level)
    app = Flask(__name__)
    # Heroku's router (and most load balancers) end TLS and say so in X-Forwarded-Proto: the
    # URLs the app builds (the App manifest's) and its cookies' Secure flag follow it.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1)
    app.config["PRMONITOR"] = config
    app.config["MAX_CONTENT_LENGTH"] = 25 * 1024 * 1024
    db.bind(config.database_url)
    _init_connections(app)
    _init_auth(app, config.api_token)
    _init_errors(app)

    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    return app


def blueprints():
    """Every route of the app, by concern: webhooks, the JSON API, the dashboard, App set-up."""
    from prmonitor.web import api, dashboard, manifest
    from prmonitor.webhooks import receiver

    return [receiver.bp, api.bp, dashboard.bp, manifest.bp]


def _config_or_exit():
    """Config from the environment; a bad setting ends start-up with one line naming it."""
    try:
        return Config.from_env()
    except ConfigError as exc:
        print(f"prmonitor: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def configure_logging(level):
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    logging.getLogger("prmonitor").setLevel(level)


def _init_connections(app):
    """One connection per request, returned at teardown (to the pool, on Postgres)."""

    @app.before_request
    def _connect():
        db.database.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not db.database.is_closed():
            db.database.close()


def _init_auth(app, token):
    if not token:
        return

    @app.before_request
    def _require_token():
        if request.path.startswith(OPEN_PATHS):
            return None
        given = _presented_token()
        if not (given and hmac.compare_digest(given.encode(), token.encode())):
            if request.path.startswith("/api/"):
                return jsonify({"success": False, "error": "API_TOKEN required"}), 401
            return "API_TOKEN required: open this page with ?token=... once", 401
        if request.args.get("token") and request.method == "GET":
            return _keep_token_in_cookie()
        return None


def _keep_token_in_cookie():
    """A dashboard link opened with ?token= sets a cookie and drops the token from the address
    bar (and so from later access logs and Referer headers)."""
    args = {k: v for k, v in request.args.items(multi=True) if k != "token"}
    response = redirect(f"{request.path}?{urlencode(args)}" if args else request.path)
    response.set_cookie(
        "prmonitor_token",
        request.args["token"],
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
    )
    return response


def _presented_token():
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.args.get("token") or request.cookies.get("prmonitor_token")


def _init_errors(app):
    @app.errorhandler(404)
    @app.errorhandler(405)
    def _http_error(exc):
        if request.path.startswith("/api/"):
            return jsonify({"success": False, "error": exc.description}), exc.code
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
