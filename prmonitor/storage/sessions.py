"""People signed in with GitHub (web_sessions): a row per session, found by the SHA-256 of the
secret their cookie holds (a stolen database gives no cookie), with the repositories their
account can see and their user token, encrypted with a key derived from the App's OAuth
secret (a stolen database gives no token without the configuration)."""

import base64
import datetime
import hashlib
import json
import secrets

from cryptography.fernet import Fernet, InvalidToken

from prmonitor.storage.models import WebSession, utcnow

LIFETIME = datetime.timedelta(days=7)


def _fernet(client_secret):
    key = hashlib.sha256(f"prmonitor user tokens\0{client_secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def create(github_id, login, tokens, repos, client_secret, now=None):
    """A new session for the person's user_access.Tokens; returns the secret for their
    cookie."""
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    WebSession.create(
        key=_key(secret),
        github_id=github_id,
        login=login,
        **_sealed(tokens, client_secret),
        repos=json.dumps(sorted(repos)),
        fetched_at=now,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    return secret


def find(secret, now=None):
    """The live session of a cookie's secret, or None."""
    if not isinstance(secret, str) or not secret:
        return None
    row = WebSession.get_or_none(WebSession.key == _key(secret))
    if row is None or row.expires_at <= (now or utcnow()):
        return None
    return row


def repos_of(row):
    return frozenset(json.loads(row.repos))


def _sealed(tokens, client_secret):
    fernet = _fernet(client_secret)
    return {
        "token": fernet.encrypt(tokens.access.encode()).decode(),
        "refresh_token": fernet.encrypt(tokens.refresh.encode()).decode()
        if tokens.refresh
        else None,
        "token_expires_at": tokens.expires_at,
    }


def token_of(row, client_secret):
    """The person's token, or None when it cannot be decrypted (the OAuth secret changed)."""
    return _open(row.token, client_secret)


def refresh_token_of(row, client_secret):
    return _open(row.refresh_token, client_secret) if row.refresh_token else None


def _open(sealed, client_secret):
    try:
        return _fernet(client_secret).decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None


def new_tokens(row, tokens, client_secret):
    """Store the tokens a refresh gave (the old refresh token no longer works)."""
    sealed = _sealed(tokens, client_secret)
    WebSession.update(**sealed).where(WebSession.id == row.id).execute()
    for name, value in sealed.items():
        setattr(row, name, value)


def refreshed(row, repos, now=None):
    """Store what the account sees now."""
    now = now or utcnow()
    WebSession.update(repos=json.dumps(sorted(repos)), fetched_at=now).where(
        WebSession.id == row.id
    ).execute()


def end(secret):
    if isinstance(secret, str) and secret:
        WebSession.delete().where(WebSession.key == _key(secret)).execute()


def prune(now=None, batch=500):
    """Delete up to `batch` expired sessions; returns how many."""
    now = now or utcnow()
    expired = WebSession.select(WebSession.id).where(WebSession.expires_at <= now).limit(batch)
    return WebSession.delete().where(WebSession.id.in_(list(expired))).execute()


def _key(secret):
    return hashlib.sha256(secret.encode()).hexdigest()
