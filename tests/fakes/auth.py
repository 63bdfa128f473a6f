"""How the fake GitHub tells who is asking: the App's JWT, installation tokens it mints and
expires, personal access tokens; and the App's private key."""

import datetime
import json
import secrets
import string
import time
from dataclasses import dataclass, field

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.wrappers import Request

from .http import DOCS, json_response, not_found
from .world import PERMISSIONS, iso

JWT_ERROR = "A JSON web token could not be decoded"


@dataclass
class Exchange:
    """One request being answered, and what its credential turned out to be."""

    request: Request
    auth: str | None = None
    credential: str | None = None
    installation_id: int | None = None
    bucket: tuple | None = None  # set only for a valid installation or personal token
    after: list = field(default_factory=list)  # run once the lock is released


class Credentials:
    """The App's key and id, the tokens minted (`_tokens`) and the personal ones (`_personal`)."""

    def expire_tokens(self):
        with self._lock:
            for token in self._tokens.values():
                token["revoked"] = True

    def add_personal_token(self, token):
        with self._lock:
            self._personal.add(token)

    def app_jwt(self, **claims):
        """A JWT as the App signs it (iat 60 s ago, 10 minutes later exp); `claims` override.

        Signed as raw JWS, so that a test can send claims pyjwt refuses to encode (integer iss).
        """
        now = int(time.time())
        body = {"iat": now - 60, "exp": now + 540, "iss": str(self.app_id), **claims}
        return jwt.PyJWS().encode(json.dumps(body).encode(), self.private_key_pem, "RS256")

    def _authenticate(self, exchange):
        scheme, _, credential = exchange.request.headers.get("Authorization", "").partition(" ")
        credential = credential.strip()
        if scheme.lower() not in ("bearer", "token") or not credential:
            return
        exchange.credential = credential
        token = self._tokens.get(credential)
        if token is not None:
            exchange.auth = "installation"
            if not token["revoked"] and time.time() < token["expires"]:
                exchange.installation_id = token["installation_id"]
                exchange.bucket = ("installation", token["installation_id"])
        elif credential in self._user_tokens:
            exchange.auth, exchange.bucket = "user", ("user", credential)
        elif credential in self._personal:
            exchange.auth, exchange.bucket = "personal", ("personal", credential)
        else:
            exchange.auth = credential_kind(credential)

    def _valid_jwt(self, credential):
        """GitHub's checks: RS256 by the App's key, iss the App id (a string), iat and exp
        present, at most 10 minutes apart (plus a minute of clock drift), exp in the future:
        https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
        """
        if not credential:
            return False
        options = {"require": ["iat", "exp", "iss"], "verify_exp": False, "verify_iat": False}
        try:
            claims = jwt.decode(
                credential,
                self._public_key,
                algorithms=["RS256"],
                options=options,
                issuer=str(self.app_id),
            )
        except jwt.PyJWTError:
            return False
        iat, exp, now = claims["iat"], claims["exp"], time.time()
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (iat, exp)):
            return False
        return exp > now and iat <= now + 5 and exp - iat <= 660

    def _may_read(self, exchange, repo):
        if exchange.auth == "personal":
            return True
        return self._repo_installation.get(repo["full_name"]) == exchange.installation_id

    def _create_token(self, exchange, installation_id):
        installation_id = int(installation_id)
        if installation_id not in self.installations:
            return not_found()
        token = "ghs_" + "".join(secrets.choice(string.ascii_letters) for _ in range(36))
        expires = time.time() + self.token_lifetime
        self._tokens[token] = {
            "installation_id": installation_id,
            "expires": expires,
            "revoked": False,
        }
        expires_at = datetime.datetime.fromtimestamp(expires, datetime.UTC)
        body = {
            "token": token,
            "expires_at": iso(expires_at),
            "permissions": dict(PERMISSIONS),
            "repository_selection": "selected",
        }
        return json_response(201, body)


def bad_jwt():
    return json_response(401, {"message": JWT_ERROR, "documentation_url": DOCS})


def bad_credentials():
    return json_response(401, {"message": "Bad credentials", "documentation_url": DOCS})


def credential_kind(credential):
    """What an unknown credential claims to be, by GitHub's token prefixes:
    https://github.blog/engineering/platform-security/behind-githubs-new-authentication-token-formats/
    """
    if credential.count(".") == 2:
        return "jwt"
    if credential.startswith("ghs_"):
        return "installation"
    if credential.startswith(("ghp_", "github_pat_")):
        return "personal"
    return None


def public_key(private_key_pem):
    key = serialization.load_pem_private_key(private_key_pem.encode(), None)
    return key.public_key()


def new_private_key():
    """A fresh RSA key as PEM text (the App's key in tests)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
