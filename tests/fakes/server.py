"""The fake GitHub on a loopback port, and prmonitor's GitHub client pointed at it."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import WSGIRequestHandler, make_server


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass  # one line per request on stderr is noise in test output


@contextmanager
def serve_fake(fake) -> Iterator[str]:
    """Serve `fake` on a free loopback port in a daemon thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, fake, threaded=True, request_handler=_QuietHandler)
    # A short poll interval: shutdown() waits for the serving loop to look at its flag.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-github", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def app_client(fake, base_url, **options):
    """prmonitor's GitHub client as the fake's App, with test-sized timeouts and backoff."""
    from prmonitor.github import GitHub
    from prmonitor.poll import EtagStore

    options = {"etags": EtagStore(), "backoff": 0.01, "timeout": (2, 2), **options}
    return GitHub(base_url, app_id=str(fake.app_id), private_key=fake.private_key_pem, **options)
