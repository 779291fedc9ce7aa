"""The verifier: JWKS with key rotation, the revocation set, the feed follower.

Only Debian's python3-jwt (PyJWT) and python3-requests are needed; the feed's
Server-Sent Events are read with the standard library's http.client, which hands over
bytes as they arrive.
"""

import http.client
import json
import logging
import random
import threading
import time
import urllib.parse

import jwt
import requests

log = logging.getLogger("jwtd_verifier")


class InvalidToken(Exception):
    """The token is malformed, badly signed, expired or of the wrong type."""


class RevokedToken(InvalidToken):
    """The token verified but was revoked (by jti, by session or by user watermark)."""


class FeedStale(Exception):
    """fail_closed is on and the feed has been down for longer than max_staleness."""


class RevocationSet:
    """Revocations by jti, by sid and by user watermark, each kept until its `until`.

    Thread-safe: the feed thread applies events, request threads check tokens. A check is
    a few dict lookups under no lock (CPython's dict reads are atomic); writers take a lock
    between themselves.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.jtis = {}   # jti -> until
        self.sids = {}   # sid -> until
        self.users = {}  # user id (str) -> (before, until)
        self._next_prune = 0.0

    def apply(self, event):
        """Applies one feed event ({"type", "value", "before"?, "until"})."""
        kind, value, until = event.get("type"), str(event.get("value", "")), int(event.get("until", 0))
        if not value:
            return
        with self._lock:
            if kind == "jti":
                self.jtis[value] = max(until, self.jtis.get(value, 0))
            elif kind == "sid":
                self.sids[value] = max(until, self.sids.get(value, 0))
            elif kind == "user":
                before = int(event.get("before", 0))
                old = self.users.get(value)
                if old is None or before >= old[0]:
                    self.users[value] = (before, max(until, old[1] if old else 0))
            now = time.time()
            if now >= self._next_prune:
                self._prune(now)
                self._next_prune = now + 60

    def _prune(self, now):
        for table in (self.jtis, self.sids):
            for k in [k for k, u in table.items() if u < now]:
                del table[k]
        for k in [k for k, (_, u) in self.users.items() if u < now]:
            del self.users[k]

    def is_revoked(self, claims):
        """Whether a verified token's claims are covered by a revocation."""
        jti, sid = claims.get("jti"), claims.get("sid")
        if jti and jti in self.jtis:
            return True
        if sid and sid in self.sids:
            return True
        uid = claims.get("user_id", claims.get("sub"))
        if uid is not None:
            w = self.users.get(str(uid))
            if w is not None and int(claims.get("iat", 0)) < w[0]:
                return True
        return False

    def __len__(self):
        return len(self.jtis) + len(self.sids) + len(self.users)


class _Jwks:
    """jwtd's public keys by kid, each with its one algorithm (the JWK's "alg": a token
    whose header names another is refused); an unknown kid refetches, at most once per
    interval."""

    def __init__(self, url, session, refetch_interval, timeout):
        self.url, self.session = url, session
        self.refetch_interval, self.timeout = refetch_interval, timeout
        self._keys = {}
        self._fetched_at = None
        self._lock = threading.Lock()

    def fetch(self):
        r = self.session.get(self.url, timeout=self.timeout)
        r.raise_for_status()
        keys = {}
        for jwk in r.json().get("keys", []):
            if not jwk.get("alg"):
                continue  # jwtd names each key's one algorithm; a key without one is not used
            try:
                keys[jwk.get("kid")] = (jwt.PyJWK(jwk).key, jwk["alg"])
            except jwt.PyJWTError:
                continue  # a key type this PyJWT cannot use
        self._keys = keys
        self._fetched_at = time.monotonic()

    def key(self, kid):
        k = self._keys.get(kid)
        if k is not None:
            return k
        with self._lock:
            k = self._keys.get(kid)
            if k is None and (self._fetched_at is None or
                              time.monotonic() - self._fetched_at >= self.refetch_interval):
                try:
                    self.fetch()
                except (requests.RequestException, ValueError) as e:
                    log.warning("JWKS refetch failed: %s", e)
                k = self._keys.get(kid)
        if k is None:
            raise InvalidToken("unknown key id")
        return k


class Verifier:
    """Verifies jwtd access tokens locally and follows jwtd's revocation feed.

    base_url: jwtd's URL. verifier_key: from `jwtd verifier create NAME` (None: no feed,
    signatures and expiry only). max_staleness (seconds) with fail_closed=True: verify()
    raises FeedStale once the feed has been down for longer than that (and before the first
    snapshot arrived); with fail_closed=False (the default) it keeps verifying with the
    revocations it has, and `staleness` tells how old they may be.
    """

    def __init__(self, base_url, verifier_key=None, *, audience=None, issuer=None,
                 leeway=0, max_staleness=30.0, fail_closed=False, jwks_refetch_interval=30.0,
                 timeout=5.0, reconnect_min=0.25, reconnect_max=30.0, keepalive_timeout=40.0):
        self.base_url = base_url.rstrip("/")
        self.verifier_key = verifier_key
        self.audience, self.issuer, self.leeway = audience, issuer, leeway
        self.max_staleness, self.fail_closed = max_staleness, fail_closed
        self.timeout = timeout
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.keepalive_timeout = keepalive_timeout
        self.session = requests.Session()
        self.jwks = _Jwks(self.base_url + "/.well-known/jwks.json", self.session,
                          jwks_refetch_interval, timeout)
        self.revocations = RevocationSet()
        self.last_event_id = None
        self.events_applied = 0
        self.connected = False
        self.ready = threading.Event()  # set once the first snapshot or cursor is in
        self._down_since = time.monotonic()
        self._stop = threading.Event()
        self._thread = None
        self._conn = None

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self, wait=None):
        """Fetches the JWKS and starts following the feed. wait: seconds to wait for the
        feed's first answer (None: do not wait). Returns self."""
        try:
            self.jwks.fetch()
        except (requests.RequestException, ValueError) as e:
            log.warning("JWKS fetch failed, retried on the first token: %s", e)
        if self.verifier_key and self._thread is None:
            self._thread = threading.Thread(target=self._follow, name="jwtd-feed", daemon=True)
            self._thread.start()
            if wait:
                self.ready.wait(wait)
        return self

    def stop(self):
        self._stop.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.sock and conn.sock.shutdown(2)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    @property
    def staleness(self):
        """Seconds for which revocations may have been missed: 0 while the feed is
        connected, else the time since it was last connected (infinite before that)."""
        if self.connected:
            return 0.0
        if not self.ready.is_set():
            return float("inf")
        return time.monotonic() - self._down_since

    # ---- verification ------------------------------------------------------------------

    def verify(self, token, token_type="access"):
        """Returns the claims of a valid, unrevoked token; raises InvalidToken,
        RevokedToken, or FeedStale (fail_closed beyond max_staleness)."""
        if self.verifier_key and self.fail_closed and self.staleness > self.max_staleness:
            raise FeedStale("revocation feed stale for %.0f s" % self.staleness)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise InvalidToken(str(e)) from None
        key, alg = self.jwks.key(header.get("kid"))
        options = {"require": ["exp", "iat"], "verify_aud": self.audience is not None}
        try:
            claims = jwt.decode(token, key, algorithms=[alg],
                                audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway, options=options)
        except jwt.ExpiredSignatureError:
            raise InvalidToken("Token is expired") from None
        except jwt.PyJWTError as e:
            raise InvalidToken(str(e)) from None
        if token_type and claims.get("token_type") != token_type:
            raise InvalidToken("Token has wrong type")
        if self.revocations.is_revoked(claims):
            raise RevokedToken("Token is revoked")
        return claims

    def fastapi_dependency(self):
        """A FastAPI dependency returning the verified claims (401, or 503 when stale and
        failing closed). See jwtd_verifier.fastapi."""
        from .fastapi import dependency
        return dependency(self)

    # ---- the feed ----------------------------------------------------------------------

    def _apply(self, event_id, data):
        try:
            ev = json.loads(data)
        except ValueError:
            log.warning("feed: undecodable event ignored")
            return
        self.revocations.apply(ev)
        self.events_applied += 1
        if event_id:
            self.last_event_id = event_id

    def _follow(self):
        delay = self.reconnect_min
        while not self._stop.is_set():
            try:
                self._stream_once()
                delay = self.reconnect_min  # a clean end (jwtd restarting): come back soon
            except (OSError, http.client.HTTPException) as e:
                log.info("feed: connection lost (%s), reconnecting", e)
            except _Refused as e:
                log.error("feed: %s", e)
            if self.connected:
                # the stream was up: a connection cut after that (a proxy, a silent peer
                # timed out) comes back soon, however many failures came before it
                delay = self.reconnect_min
                self.connected = False
                self._down_since = time.monotonic()
            if self._stop.wait(delay * (0.5 + random.random() / 2)):
                break
            delay = min(delay * 2, self.reconnect_max)

    def _stream_once(self):
        u = urllib.parse.urlsplit(self.base_url)
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        conn = cls(u.hostname, u.port, timeout=self.keepalive_timeout)
        self._conn = conn
        try:
            headers = {"Authorization": "Bearer " + self.verifier_key,
                       "Accept": "text/event-stream"}
            if self.last_event_id:
                headers["Last-Event-ID"] = self.last_event_id
            conn.request("GET", u.path.rstrip("/") + "/auth/revocations/stream", headers=headers)
            resp = conn.getresponse()
            if resp.status != 200:
                body = resp.read(512)
                if resp.status in (401, 403):
                    raise _Refused("verifier key refused (%d): %r" % (resp.status, body))
                raise http.client.HTTPException("status %d" % resp.status)
            self.connected = True
            buf = b""
            event_id, data = None, []
            while not self._stop.is_set():
                chunk = resp.read1(65536)
                if not chunk:
                    return  # the server ended the stream
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    line = line.rstrip(b"\r").decode("utf-8", "replace")
                    if line == "":
                        if data:
                            self._apply(event_id, "\n".join(data))
                        event_id, data = None, []
                        continue
                    if line.startswith(":"):
                        if line[1:].strip() == "ready":
                            self.ready.set()  # the snapshot or the catch-up is in
                        continue  # a keepalive comment
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "id":
                        event_id = value
                    elif field == "data":
                        data.append(value)
                    elif field == "retry":
                        continue
        finally:
            self._conn = None
            conn.close()


class _Refused(Exception):
    pass
