"""Configuration: the only reader of the environment; validates settings, never logs secrets."""

import ipaddress
import logging
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "sqlite:///data/pr_tracking.db"
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_MODEL = "claude-sonnet-4-5"
NOTIFY_CHANNELS = ("comment", "check", "slack", "log")
BOOLEANS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}
DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql")
DIGITS = re.compile(r"[0-9]+")  # str.isdigit() also accepts "²", which int() refuses


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable, never its value."""

    def __init__(self, name, problem):
        super().__init__(f"{name}: {problem}")
        self.name = name


@dataclass(frozen=True)
class Config:
    """Every setting prmonitor reads, validated; secrets are kept out of its repr."""

    database_url: str = field(default=DEFAULT_DATABASE_URL, repr=False)  # may hold a password
    host: str = "127.0.0.1"
    port: int = 3000
    app_id: str | None = None
    private_key: str | None = field(default=None, repr=False)
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    github_token: str | None = field(default=None, repr=False)
    github_api_url: str = DEFAULT_API_URL
    check_interval: float = 60.0
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_model: str = DEFAULT_MODEL
    anthropic_base_url: str | None = None
    analysis_max_per_head: int = 8
    analysis_max_per_hour: int = 60
    analysis_input_tokens: int = 30_000
    notify: tuple[str, ...] = ("log",)
    notify_debounce: float = 30.0
    notify_drafts: bool = False
    slack_webhook_url: str | None = field(default=None, repr=False)
    api_token: str | None = field(default=None, repr=False)
    metrics_token: str | None = field(default=None, repr=False)
    github_client_id: str | None = None
    github_client_secret: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    delivery_retention_days: int = 14
    log_max_bytes: int = 256 * 2**20

    @classmethod
    def from_env(cls, environ=None):
        """Build a Config from environment variables; raise ConfigError naming the first bad one."""
        env = _Env(os.environ if environ is None else environ)
        app_id = _app_id(env)
        private_key = _private_key(env)
        if bool(app_id) != bool(private_key):
            missing = "PRIVATE_KEY or PRIVATE_KEY_PATH" if app_id else "APP_ID"
            raise ConfigError(missing, "GitHub App credentials need both APP_ID and a private key")
        client_id, client_secret = env.get("GITHUB_CLIENT_ID"), env.get("GITHUB_CLIENT_SECRET")
        if bool(client_id) != bool(client_secret):
            missing = "GITHUB_CLIENT_SECRET" if client_id else "GITHUB_CLIENT_ID"
            problem = "signing in with GitHub needs GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET"
            raise ConfigError(missing, problem)
        return cls(
            database_url=_database_url(env),
            host=env.get("HOST") or "127.0.0.1",
            port=_port(env),
            app_id=app_id,
            private_key=private_key,
            webhook_secrets=_secrets(env),
            github_token=env.get("GITHUB_TOKEN"),
            github_api_url=_http_url(env, "GITHUB_API_URL", DEFAULT_API_URL).rstrip("/"),
            check_interval=_interval(env),
            anthropic_api_key=env.get("ANTHROPIC_API_KEY"),
            anthropic_model=env.get("ANTHROPIC_MODEL") or DEFAULT_MODEL,
            anthropic_base_url=_optional_http_url(env, "ANTHROPIC_BASE_URL"),
            analysis_max_per_head=_whole(env, "ANALYSIS_MAX_PER_HEAD", 8, 0, 100),
            analysis_max_per_hour=_whole(env, "ANALYSIS_MAX_PER_HOUR", 60, 0, 10_000),
            analysis_input_tokens=_whole(env, "ANALYSIS_INPUT_TOKENS", 30_000, 2_000, 500_000),
            notify=_notify(env, has_app=bool(app_id)),
            notify_debounce=_seconds(env, "NOTIFY_DEBOUNCE", 30.0, 0, 3600),
            notify_drafts=_boolean(env, "NOTIFY_DRAFTS"),
            slack_webhook_url=_optional_http_url(env, "SLACK_WEBHOOK_URL"),
            api_token=env.get("API_TOKEN"),
            metrics_token=env.get("METRICS_TOKEN"),
            github_client_id=client_id,
            github_client_secret=client_secret,
            log_level=_log_level(env),
            delivery_retention_days=_retention(env),
            log_max_bytes=_log_max_bytes(env),
        )

    @property
    def has_app_credentials(self):
        """Whether APP_ID and a private key are both set."""
        return bool(self.app_id and self.private_key)

    @property
    def github_sign_in(self):
        """Whether people sign in to the dashboard with GitHub (the App's OAuth credentials)."""
        return bool(self.github_client_id and self.github_client_secret)

    @property
    def can_poll(self):
        """Whether the poller has credentials: the App's, or GITHUB_TOKEN."""
        return self.has_app_credentials or bool(self.github_token)

    def describe(self):
        """One line of what runs: the database (without its password), webhooks and polling on
        or off, and what is not configured."""
        polling = "app" if self.has_app_credentials else "token" if self.github_token else "off"
        line = (
            f"database={redacted_url(self.database_url)} "
            f"webhooks={'on' if self.webhook_secrets else 'off'} polling={polling}"
        )
        missing = self.missing_features()
        return f"{line}; not configured: {'; '.join(missing)}" if missing else line

    def missing_features(self):
        """One human sentence per feature that is off because a setting is missing."""
        missing = []
        if not self.webhook_secrets:
            missing.append("webhooks are refused (503) until WEBHOOK_SECRET is set")
        if not self.can_poll:
            missing.append(
                "polling is off until APP_ID with PRIVATE_KEY/PRIVATE_KEY_PATH, "
                "or GITHUB_TOKEN, is set"
            )
        return missing


class _Env:
    """Environment lookups that treat empty and whitespace-only values as unset."""

    def __init__(self, environ):
        self._environ = environ

    def get(self, name):
        """The variable's value stripped, or None when unset or blank."""
        value = self._environ.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()


def redacted_url(url):
    """The URL without its password (postgres://user@host:5432/db)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = f"{parts.username}@" if parts.username else ""
    return parts._replace(netloc=f"{user}{host}").geturl()


def _split_url(name, url):
    """urlsplit(url), or a ConfigError for a URL it cannot read (a bad port, an unclosed [)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(name, "is not a valid URL") from None
    return parts


def _database_url(env):
    url = env.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    parts = _split_url("DATABASE_URL", url)
    if parts.scheme not in DATABASE_SCHEMES:
        raise ConfigError(
            "DATABASE_URL", "must start with sqlite:///, postgres:// or postgresql://"
        )
    if parts.scheme == "sqlite" and (parts.netloc or len(parts.path) < 2):
        raise ConfigError(
            "DATABASE_URL", "a SQLite URL is sqlite:///relative/path or sqlite:////abs"
        )
    if parts.scheme != "sqlite" and not parts.path.strip("/"):
        raise ConfigError("DATABASE_URL", "must name the Postgres database")
    return url


def _port(env):
    raw = env.get("PORT")
    if raw is None:
        return 3000
    port = port_number(raw)
    if port is None:
        raise ConfigError("PORT", "must be a number from 1 to 65535")
    return port


def port_number(raw):
    """A TCP port from text (PORT, serve --port), or None when it is not one from 1 to 65535."""
    if not DIGITS.fullmatch(raw) or not 0 < int(raw) < 65536:
        return None
    return int(raw)


def _app_id(env):
    raw = env.get("APP_ID")
    if raw is not None and not DIGITS.fullmatch(raw):
        raise ConfigError("APP_ID", "must be the numeric GitHub App id")
    return raw


def _private_key(env):
    inline, path = env.get("PRIVATE_KEY"), env.get("PRIVATE_KEY_PATH")
    if inline:
        # Heroku config vars and .env files often carry the PEM on one line with \n escapes.
        return _checked_pem("PRIVATE_KEY", inline.replace("\\n", "\n"))
    if not path:
        return None
    try:
        with open(path, encoding="ascii") as handle:
            return _checked_pem("PRIVATE_KEY_PATH", handle.read())
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError("PRIVATE_KEY_PATH", f"cannot read the key file ({reason})") from None


def _checked_pem(name, pem):
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode("ascii", "replace"), password=None)
    except (ValueError, TypeError):
        raise ConfigError(name, "is not a PEM-encoded private key") from None
    # GitHub signs App JWTs with RS256 only: an EC or Ed25519 key could never authenticate.
    # https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(name, "must be the GitHub App's RSA private key (RS256)")
    return pem


def _secrets(env):
    raw = env.get("WEBHOOK_SECRET")
    if raw is None:
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _http_url(env, name, default):
    url = env.get(name) or default
    parts = _split_url(name, url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(name, "must be an http:// or https:// URL")
    return url


def _optional_http_url(env, name):
    return _http_url(env, name, None) if env.get(name) else None


def _interval(env):
    return _seconds(env, "CHECK_INTERVAL", 60.0, 1, 86400)


def _seconds(env, name, default, low, high):
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, "must be a number of seconds") from None
    if not low <= value <= high:  # NaN fails too
        raise ConfigError(name, f"must be between {low} and {high} seconds")
    return value


def _whole(env, name, default, low, high):
    raw = env.get(name)
    if raw is None:
        return default
    if not DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise ConfigError(name, f"must be a whole number from {low} to {high}")
    return int(raw)


def _boolean(env, name, default=False):
    raw = env.get(name)
    if raw is None:
        return default
    if raw.lower() not in BOOLEANS:
        raise ConfigError(name, "must be true or false")
    return BOOLEANS[raw.lower()]


def _notify(env, has_app):
    raw = env.get("NOTIFY")
    if raw is None:
        return ("comment", "check") if has_app else ("log",)
    channels = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    unknown = [c for c in channels if c not in NOTIFY_CHANNELS]
    if unknown or not channels:
        raise ConfigError("NOTIFY", f"channels are a comma list of {', '.join(NOTIFY_CHANNELS)}")
    if "check" in channels and not has_app:
        # https://docs.github.com/en/rest/checks/runs#create-a-check-run
        raise ConfigError("NOTIFY", "check runs can be written only by a GitHub App (APP_ID)")
    if "slack" in channels and not env.get("SLACK_WEBHOOK_URL"):
        raise ConfigError("SLACK_WEBHOOK_URL", "is required when NOTIFY includes slack")
    return channels


def _retention(env):
    raw = env.get("DELIVERY_RETENTION_DAYS")
    if raw is None:
        return 14
    # GitHub redelivers a delivery for three days: a shorter memory would process it twice.
    if not DIGITS.fullmatch(raw) or not 4 <= int(raw) <= 3650:
        raise ConfigError("DELIVERY_RETENTION_DAYS", "must be a number of days from 4 to 3650")
    return int(raw)


def _log_max_bytes(env):
    """LOG_MAX_MB: how much of a failed job's log the diagnosis reads (default 256): past it,
    the best line so far is kept and the job records that its log was cut."""
    raw = env.get("LOG_MAX_MB")
    if raw is None:
        return 256 * 2**20
    if not DIGITS.fullmatch(raw) or not 1 <= int(raw) <= 10240:
        raise ConfigError("LOG_MAX_MB", "must be a number of megabytes from 1 to 10240")
    return int(raw) * 2**20


def _log_level(env):
    level = (env.get("LOG_LEVEL") or "INFO").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError("LOG_LEVEL", "must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def is_loopback(address):
    """Whether a host, a HOST:PORT, or a bracketed IPv6 address with or without its port
    ("[::1]:3000") names this machine only: a loopback address, or localhost."""
    address = address.strip().lower().removeprefix("tcp://")
    if address.startswith("["):
        host = address[1:].partition("]")[0]
    else:
        host = address.rpartition(":")[0] if address.count(":") == 1 else address
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
