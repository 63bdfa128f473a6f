"""`prmonitor serve`: the app under gunicorn, in the foreground, for local use."""

from gunicorn.app.base import BaseApplication

# The path without its query string: a dashboard link may carry ?token=API_TOKEN.
ACCESS_LOG_FORMAT = "%(h)s method=%(m)s path=%(U)s status=%(s)s bytes=%(B)s ms=%(M)s"


class _Gunicorn(BaseApplication):
    def __init__(self, options):
        self.options = options
        super().__init__()

    def load_config(self):
        """Hand the options to gunicorn."""
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        """The WSGI app, built in each worker."""
        from prmonitor import create_app

        return create_app()


def serve(host, port, workers=2):
    """Run until Ctrl-C. Each worker builds its own app, so no connection crosses a fork."""
    _Gunicorn(
        {
            "bind": bind_address(host, port),
            "workers": workers,
            "worker_class": "sync",
            "timeout": 30,
            "accesslog": "-",
            "access_log_format": ACCESS_LOG_FORMAT,
        }
    ).run()


def bind_address(host, port):
    """gunicorn's HOST:PORT, with an IPv6 address in brackets ([::1]:3000)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"
