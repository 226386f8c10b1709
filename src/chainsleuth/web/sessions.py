"""Web sessions: a signed, expiring cookie, CSRF tokens, and a throttle against password guessing.

Design (see ``docs/web.md``): the session lives in one cookie signed with itsdangerous under the deployment's
secret key (salt ``chainsleuth.web.session``). It holds a random session id, the username, the log-in stage
(``anon`` before log-in, ``totp`` between password and second factor, ``full`` once logged in), the CSRF
token, the log-in and last-seen times and a *credential fingerprint* (a hash of the user's password hash and
TOTP secret). We chose a signed cookie over session rows because it needs no schema change and no write per
request, and works the same on SQLite and PostgreSQL. What a row would give us we get otherwise:

* expiry: an absolute lifetime from log-in and an idle timeout from the last request, checked here;
* revocation: log-out adds the session id to a revocation list held by the process until the session would
  have expired anyway; changing the password or TOTP secret changes the fingerprint and thus ends every session
  of that user on every process at once;
* nothing secret is stored in the cookie: it is signed, not encrypted, and holds no personal data.

The user's role is never in the cookie: every request re-reads the user, so a role change or deactivation
takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from itsdangerous import BadSignature, URLSafeSerializer

Stage = Literal["anon", "totp", "full"]
COOKIE_NAME = "chainsleuth_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class SessionConfig:
    """Lifetimes and throttling limits (seconds); tests shorten them."""

    absolute_lifetime: int = 8 * 3600
    idle_timeout: int = 30 * 60
    #: A cookie is re-signed with a new last-seen time at most this often (fewer Set-Cookie headers).
    touch_interval: int = 60
    max_user_failures: int = 5
    max_ip_failures: int = 25
    failure_window: int = 15 * 60
    lockout: int = 15 * 60


@dataclass(frozen=True)
class WebSession:
    """The content of the session cookie."""

    sid: str
    stage: Stage
    csrf: str
    username: str | None = None
    fingerprint: str | None = None
    logged_in_at: float = 0.0
    last_seen: float = 0.0
    #: TOTP enrolment in progress: the proposed secret (the user's own; shown to them anyway).
    pending_totp: str | None = None


def credential_fingerprint(password_hash: str, totp_secret: str | None) -> str:
    """A short hash binding a session to the user's current credentials (a change logs every session out)."""
    digest = hashlib.sha256(f"{password_hash}|{totp_secret or ''}".encode()).hexdigest()
    return digest[:24]


def new_token() -> str:
    """A random, URL-safe token (session ids and CSRF tokens)."""
    return secrets.token_urlsafe(24)


def csrf_matches(session: WebSession, given: str | None) -> bool:
    """Constant-time comparison of a submitted CSRF token with the session's."""
    return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())


class SessionManager:
    """Encodes, decodes, expires and revokes sessions. One per app (``app.state.web_sessions``)."""

    def __init__(
        self, secret_key: str, config: SessionConfig | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt="chainsleuth.web.session")
        self.config = config or SessionConfig()
        self.clock = clock
        self._revoked: dict[str, float] = {}
        self._totp_used: dict[str, int] = {}
        self._lock = threading.Lock()
        self.throttle = LoginThrottle(self.config, clock)

    def use_totp_counter(self, username: str, counter: int) -> bool:
        """Accept a TOTP time step once per user: False if this step (or a later one) was used already."""
        with self._lock:
            if self._totp_used.get(username, -1) >= counter:
                return False
            self._totp_used[username] = counter
            return True

    def anonymous(self) -> WebSession:
        """A fresh pre-log-in session: it only carries the CSRF token that protects the log-in form."""
        now = self.clock()
        return WebSession(sid=new_token(), stage="anon", csrf=new_token(), last_seen=now)

    def start(self, username: str, fingerprint: str, *, stage: Stage) -> WebSession:
        """A new session after a correct password (new id and CSRF token: no session fixation)."""
        now = self.clock()
        return WebSession(
            sid=new_token(),
            stage=stage,
            csrf=new_token(),
            username=username,
            fingerprint=fingerprint,
            logged_in_at=now,
            last_seen=now,
        )

    def encode(self, session: WebSession) -> str:
        return self._serializer.dumps(asdict(session))

    def decode(self, cookie: str | None) -> WebSession | None:
        """The session in ``cookie``; None when absent, forged, expired or revoked."""
        if not cookie:
            return None
        try:
            data: Any = self._serializer.loads(cookie)
        except BadSignature:
            return None
        if not isinstance(data, dict):
            return None
        try:
            session = WebSession(**data)
        except TypeError:
            return None
        if self.is_revoked(session.sid) or self.expired(session):
            return None
        return session

    def expired(self, session: WebSession) -> bool:
        """Past the absolute lifetime since log-in, or idle for longer than the idle timeout."""
        now = self.clock()
        if session.stage != "anon" and now - session.logged_in_at > self.config.absolute_lifetime:
            return True
        return now - session.last_seen > self.config.idle_timeout

    def touched(self, session: WebSession) -> WebSession | None:
        """The session with a fresh last-seen time, or None when it is recent enough not to re-sign."""
        now = self.clock()
        if now - session.last_seen < self.config.touch_interval:
            return None
        return replace(session, last_seen=now)

    def revoke(self, session: WebSession) -> None:
        """Log-out: refuse this session id from now on (until it would have expired anyway)."""
        now = self.clock()
        until = session.logged_in_at + self.config.absolute_lifetime
        with self._lock:
            self._revoked = {sid: end for sid, end in self._revoked.items() if end > now}
            self._revoked[session.sid] = max(until, now + self.config.idle_timeout)

    def is_revoked(self, sid: str) -> bool:
        with self._lock:
            return sid in self._revoked


class LoginThrottle:
    """Counts failed log-ins per username and per client address, and locks out after too many.

    Per username stops guessing one account's password; per address stops spraying many accounts from one
    place. Locked-out attempts are refused before the password is checked, so they cost no argon2 work and
    reveal nothing. Held in process memory: a restart forgets the counters (acceptable: the lockout only
    needs to slow guessing down to a few attempts per quarter hour).
    """

    def __init__(self, config: SessionConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(username: str, client: str) -> tuple[str, str]:
        return f"user:{username.strip().lower()}", f"ip:{client}"

    def locked_for(self, username: str, client: str) -> float:
        """Seconds until a log-in for ``username`` from ``client`` is allowed again (0 when allowed)."""
        now = self.clock()
        with self._lock:
            remaining = [self._locked_until.get(key, 0.0) - now for key in self._keys(username, client)]
        return max(0.0, *remaining)

    def failed(self, username: str, client: str) -> bool:
        """Record a failure; True when it has just locked the username or the address."""
        now = self.clock()
        locked = False
        limits = (self.config.max_user_failures, self.config.max_ip_failures)
        with self._lock:
            for key, limit in zip(self._keys(username, client), limits, strict=True):
                recent = [t for t in self._failures.get(key, []) if now - t < self.config.failure_window]
                recent.append(now)
                self._failures[key] = recent
                if len(recent) >= limit:
                    self._locked_until[key] = now + self.config.lockout
                    self._failures[key] = []
                    locked = True
        return locked

    def succeeded(self, username: str) -> None:
        """A correct log-in clears the username's failures (not the address's)."""
        with self._lock:
            self._failures.pop(self._keys(username, "")[0], None)
