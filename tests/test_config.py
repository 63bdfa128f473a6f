"""Configuration from the environment: defaults, errors naming the variable, no secrets shown."""

import pytest

from prmonitor.config import Config, ConfigError, is_loopback

from .fakes import new_private_key


@pytest.fixture(scope="module")
def pem():
    return new_private_key()


def test_defaults():
    config = Config.from_env({})
    assert config.database_url == "sqlite:///data/pr_tracking.db"
    assert (config.host, config.port, config.check_interval) == ("127.0.0.1", 3000, 60.0)
    assert config.github_api_url == "https://api.github.com"
    assert config.notify == ("log",)
    assert config.webhook_secrets == ()
    assert not config.can_poll
    assert len(config.missing_features()) == 2


def test_app_credentials_with_escaped_newlines(pem):
    config = Config.from_env({"APP_ID": "12345", "PRIVATE_KEY": pem.replace("\n", "\\n")})
    assert config.private_key == pem
    assert config.has_app_credentials
    assert config.notify == ("comment", "check")
    assert (config.notify_debounce, config.notify_drafts) == (30.0, False)


def test_private_key_path(pem, tmp_path):
    (tmp_path / "key.pem").write_text(pem)
    config = Config.from_env({"APP_ID": "1", "PRIVATE_KEY_PATH": str(tmp_path / "key.pem")})
    assert config.private_key == pem


def test_secrets_and_urls():
    config = Config.from_env(
        {
            "WEBHOOK_SECRET": "new, old ,",
            "DATABASE_URL": "postgres://u:p@db.example:5432/prod",
            "GITHUB_API_URL": "https://ghe.example/api/v3/",
            "CHECK_INTERVAL": "30",
            "NOTIFY": "log,slack",
            "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/x",
        }
    )
    assert config.webhook_secrets == ("new", "old")
    assert config.github_api_url == "https://ghe.example/api/v3"
    assert config.check_interval == 30.0
    assert config.notify == ("log", "slack")
    assert Config.from_env({"DATABASE_URL": "postgresql://h/d"}).database_url == "postgresql://h/d"


def test_analysis_settings():
    config = Config.from_env({})
    assert (config.analysis_max_per_head, config.analysis_max_per_hour) == (8, 60)
    assert config.analysis_input_tokens == 30_000 and config.anthropic_base_url is None
    env = {"ANALYSIS_MAX_PER_HEAD": "3", "ANALYSIS_INPUT_TOKENS": "50000"}
    config = Config.from_env({**env, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/"})
    assert (config.analysis_max_per_head, config.analysis_input_tokens) == (3, 50_000)
    assert config.anthropic_base_url == "http://127.0.0.1:9/"


def test_notification_settings():
    config = Config.from_env({"NOTIFY_DEBOUNCE": "0", "NOTIFY_DRAFTS": "Yes", "NOTIFY": "log"})
    assert (config.notify, config.notify_debounce, config.notify_drafts) == (("log",), 0.0, True)


@pytest.mark.parametrize(
    "env,name",
    [
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite://data/pr.db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite+pool:///x.db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://u@h:notaport/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgres://u@h:5432/"}, "DATABASE_URL"),
        ({"PORT": "\u00b2"}, "PORT"),
        ({"APP_ID": "\u0661", "PRIVATE_KEY": "x"}, "APP_ID"),
        ({"PORT": "http"}, "PORT"),
        ({"PORT": "70000"}, "PORT"),
        ({"CHECK_INTERVAL": "soon"}, "CHECK_INTERVAL"),
        ({"CHECK_INTERVAL": "0"}, "CHECK_INTERVAL"),
        ({"APP_ID": "my-app", "PRIVATE_KEY": "x"}, "APP_ID"),
        ({"APP_ID": "1", "PRIVATE_KEY": "-----BEGIN NOT A KEY-----"}, "PRIVATE_KEY"),
        ({"APP_ID": "1", "PRIVATE_KEY_PATH": "/nonexistent/key.pem"}, "PRIVATE_KEY_PATH"),
        ({"APP_ID": "1"}, "PRIVATE_KEY or PRIVATE_KEY_PATH"),
        ({"GITHUB_API_URL": "ftp://x"}, "GITHUB_API_URL"),
        ({"GITHUB_API_URL": "http://[::1"}, "GITHUB_API_URL"),
        ({"GITHUB_API_URL": "https://ghe.example:api/api/v3"}, "GITHUB_API_URL"),
        ({"SLACK_WEBHOOK_URL": "https://hooks.slack.com:x/T0"}, "SLACK_WEBHOOK_URL"),
        ({"NOTIFY": "email"}, "NOTIFY"),
        ({"NOTIFY": "slack"}, "SLACK_WEBHOOK_URL"),
        ({"NOTIFY": "comment,check", "GITHUB_TOKEN": "ghp_x"}, "NOTIFY"),
        ({"NOTIFY_DEBOUNCE": "soon"}, "NOTIFY_DEBOUNCE"),
        ({"NOTIFY_DEBOUNCE": "-1"}, "NOTIFY_DEBOUNCE"),
        ({"NOTIFY_DEBOUNCE": "nan"}, "NOTIFY_DEBOUNCE"),
        ({"NOTIFY_DRAFTS": "sometimes"}, "NOTIFY_DRAFTS"),
        ({"ANTHROPIC_BASE_URL": "ftp://x"}, "ANTHROPIC_BASE_URL"),
        ({"ANALYSIS_MAX_PER_HEAD": "many"}, "ANALYSIS_MAX_PER_HEAD"),
        ({"ANALYSIS_MAX_PER_HOUR": "-1"}, "ANALYSIS_MAX_PER_HOUR"),
        ({"ANALYSIS_INPUT_TOKENS": "100"}, "ANALYSIS_INPUT_TOKENS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_bad_values_name_the_variable(env, name):
    with pytest.raises(ConfigError) as raised:
        Config.from_env(env)
    assert raised.value.name == name
    assert str(raised.value).startswith(f"{name}: ")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("kind", ["ec", "ed25519"])
@pytest.mark.parametrize("variable", ["PRIVATE_KEY", "PRIVATE_KEY_PATH"])
def test_a_key_that_is_not_rsa_is_refused_at_start_up(kind, variable, tmp_path):
    """GitHub signs App JWTs with RS256 only: another key would fail at every call."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ec"
        else ed25519.Ed25519PrivateKey.generate()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    if variable == "PRIVATE_KEY_PATH":
        (tmp_path / "key.pem").write_text(pem)
        pem = str(tmp_path / "key.pem")
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"APP_ID": "1", variable: pem})
    assert str(raised.value) == f"{variable}: must be the GitHub App's RSA private key (RS256)"


def test_secret_values_never_appear_in_errors_or_repr():
    secret_key = "-----BEGIN RSA PRIVATE KEY-----\\nc2VjcmV0LWtleS1ieXRlcw==\\n-----END"
    with pytest.raises(ConfigError) as raised:
        Config.from_env({"APP_ID": "1", "PRIVATE_KEY": secret_key})
    assert "c2VjcmV0" not in str(raised.value)
    config = Config.from_env(
        {
            "WEBHOOK_SECRET": "hunter2",
            "API_TOKEN": "tok-123",
            "GITHUB_TOKEN": "ghp_abc",
            "ANTHROPIC_API_KEY": "sk-ant-x",
            "DATABASE_URL": "postgres://app:pg-pass@db:5432/prod",
        }
    )
    shown = repr(config)
    for value in ("hunter2", "tok-123", "ghp_abc", "sk-ant-x", "pg-pass"):
        assert value not in shown


@pytest.mark.parametrize(
    "address, loopback",
    [
        ("127.0.0.1", True),
        ("127.0.0.1:3000", True),
        ("localhost:3000", True),
        ("LOCALHOST", True),
        ("[::1]", True),
        ("[::1]:3000", True),
        ("::1", True),
        ("tcp://127.0.0.2:80", True),
        ("0.0.0.0:3000", False),
        ("[::]:3000", False),
        ("ci.example.com", False),
        ("10.0.0.5:3000", False),
    ],
)
def test_is_loopback(address, loopback):
    assert is_loopback(address) is loopback
