"""Signed, expiring bearer tokens for the HTTP API.

itsdangerous (the signer Starlette's sessions use) does the signing: a token is the username and issue time under an
HMAC with the deployment's secret key. Tokens carry no role: the role is read from the database on each request,
so a changed role or a deactivated user takes effect immediately.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from chainsleuth.errors import AuthenticationError

DEFAULT_TOKEN_TTL_SECONDS = 8 * 3600


class TokenSigner:
    """Issues and verifies API tokens."""

    def __init__(self, secret_key: str, ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="chainsleuth.api.token")
        self.ttl_seconds = ttl_seconds

    def issue(self, username: str) -> str:
        return self._serializer.dumps({"sub": username})

    def verify(self, token: str) -> str:
        """The username in a valid token; AuthenticationError when forged or expired."""
        try:
            payload = self._serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired:
            raise AuthenticationError("token expired: log in again") from None
        except BadSignature:
            raise AuthenticationError("invalid token") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("sub"), str):
            raise AuthenticationError("invalid token")
        username: str = payload["sub"]
        return username
