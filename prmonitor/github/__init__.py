"""GitHub: the REST client (client, with its rate-limit budget in budget and errors in errors) and
the pure parsers of its webhook and REST JSON (payloads, over the field readers in fields), and
downloads behind signed URLs (downloads: a job's log as a stream)."""

from prmonitor.github.client import GitHub, Page, app_jwt
from prmonitor.github.errors import GitHubError, NotFound, RateLimited, Unavailable

__all__ = ["GitHub", "GitHubError", "NotFound", "Page", "RateLimited", "Unavailable", "app_jwt"]
