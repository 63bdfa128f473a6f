"""GitHub: the REST client and the pure parsers of its webhook and REST JSON (payloads)."""

from prmonitor.github.client import (
    GitHub,
    GitHubError,
    NotFound,
    Page,
    RateLimited,
    Unavailable,
    app_jwt,
)

__all__ = ["GitHub", "GitHubError", "NotFound", "Page", "RateLimited", "Unavailable", "app_jwt"]
