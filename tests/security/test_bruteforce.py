"""Online guessing without lockout (issue 15, item 3; docs/security.md): OWASP's device
cookie. A successful login earns a device token (the cookie on the browser flow, the
X-Device-Token header on the JSON routes); an attempt presenting one valid for its
username (the cookie, or the body field device_token) counts against that device only, any
other against the client address, the account from that address and the account from
every untrusted client. While an account is guessed at, from one address or from
many, its owner still signs in with a device token; from one guessing address, the owner
also signs in from any other address without one; the guesses stay bounded per account.

Clients are real loopback peers (127.0.0.X: each test client binds its socket to its own
address), so no proxy header is involved. Budgets are per hour so the clock never matters:
    JWTD_RATE_LIMIT_LOGIN=10/hour            attempts per address (or per device)
    JWTD_RATE_LIMIT_LOGIN_ACCOUNT=6/hour     untrusted failures per account
    JWTD_RATE_LIMIT_LOGIN_ACCOUNT_IP=2/hour  untrusted failures per account and address
    JWTD_RATE_LIMIT_LOGIN_DEVICE=3/hour      failures per device token
The same with two instances on one Redis at the end."""

import base64
import json

import pytest
import requests
from requests.adapters import HTTPAdapter

from peers import TEST_PASSWORD, Jwtd, token_env, tokens  # noqa: F401 (fixture)
from redis_util import redis_server  # noqa: F401 (fixture)

LIMITS = {
    "JWTD_RATE_LIMIT_LOGIN": "10/hour",
    "JWTD_RATE_LIMIT_LOGIN_ACCOUNT": "6/hour",
    "JWTD_RATE_LIMIT_LOGIN_ACCOUNT_IP": "2/hour",
    "JWTD_RATE_LIMIT_LOGIN_DEVICE": "3/hour",
}
ACCOUNT_BOUND = 6


class _Source(HTTPAdapter):
    def __init__(self, addr):
        self.addr = addr
        super().__init__()

    def init_poolmanager(self, *args, **kw):
        kw["source_address"] = (self.addr, 0)
        super().init_poolmanager(*args, **kw)


class Client:
    """A client on its own loopback address."""

    def __init__(self, j, addr):
        self.j = j
        self.http = requests.Session()
        self.http.mount("http://", _Source(addr))

    def post(self, path, body, **kw):
        return self.http.post(self.j.url + path, json=body, timeout=30, **kw)

    def login(self, password=TEST_PASSWORD, user="testuser", device=None,
              path="/api/token/"):
        body = {"username": user, "password": password}
        if device is not None:
            body["device_token"] = device
        return self.post(path, body)


def guess(c, n, user="testuser"):
    return [c.login("wrong-%d" % i, user=user).status_code for i in range(n)]


def server(tokens, **extra):  # noqa: F811
    env = dict(LIMITS)
    env.update(extra)
    return tokens(users=("testuser", "alice"), **env)


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def test_login_earns_a_device_token_on_every_route(tokens):  # noqa: F811
    j = server(tokens)
    c = Client(j, "127.0.0.2")
    for path in ("/api/token/", "/auth/login", "/api/auth/mobile/login/"):
        r = c.login(path=path)
        assert r.status_code == 200, (path, r.text)
        # in a header: the bodies keep SimpleJWT's and FastAPI's shapes
        assert "device_token" not in r.json()
        tok = r.headers["X-Device-Token"]
        head, payload, _ = tok.split(".")
        claims = json.loads(b64d(payload))
        # a device id and the username, nothing a resource server would take for a user
        assert set(claims) == {"device", "for", "iat", "exp"}, claims
        assert claims["for"] == "testuser" and len(claims["device"]) == 32
        assert claims["exp"] - claims["iat"] == 180 * 86400
        # and no route takes it for a token of jwtd's
        assert j.verify(tok).status_code == 401
        assert j.me(tok).status_code == 401
    # the browser flow: an HttpOnly, SameSite=Strict cookie for the login path only
    r = c.post("/api/auth/login/", {"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200, r.text
    assert "X-Device-Token" not in r.headers
    cookies = r.headers.get("Set-Cookie", "")
    dev = [p for p in r.raw.headers.getlist("Set-Cookie") if p.startswith("device_token=")]
    assert len(dev) == 1, cookies
    attrs = [a.strip() for a in dev[0].split(";")]
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs
    assert "Path=/api/auth/login/" in attrs and "Max-Age=%d" % (180 * 86400) in attrs
    # failed logins earn nothing
    r = c.login("wrong")
    assert r.status_code == 401 and "X-Device-Token" not in r.headers


def test_off_with_zero_lifetime(tokens):  # noqa: F811
    j = server(tokens, JWTD_DEVICE_TOKEN_LIFETIME="0")
    c = Client(j, "127.0.0.2")
    r = c.login()
    assert r.status_code == 200 and "X-Device-Token" not in r.headers


def test_one_guessing_address_locks_out_nobody(tokens):  # noqa: F811
    j = server(tokens)
    owner = Client(j, "127.0.0.2")
    first = owner.login()
    assert first.status_code == 200
    device, refresh = first.headers["X-Device-Token"], first.json()["refresh"]

    attacker = Client(j, "127.0.0.66")
    codes = guess(attacker, 8)
    # two guesses at this account from this address, then 429 (the address may still
    # try other accounts: its own attempt budget is not spent by the refusals)
    assert codes == [401, 401] + [429] * 6, codes
    assert attacker.login("x", user="alice").status_code == 401

    # the owner signs in from another address without a device token...
    assert Client(j, "127.0.0.3").login().status_code == 200
    # ...from the attacker's very address with the device token (body field)...
    assert attacker.login(device=device).status_code == 200
    # ...and the attacker is still refused
    assert guess(attacker, 2) == [429, 429]
    # the session from before the attack refreshes
    r = owner.post("/api/token/refresh/", {"refresh": refresh})
    assert r.status_code == 200, r.text


def test_distributed_guessing_is_bounded_and_devices_still_pass(tokens):  # noqa: F811
    j = server(tokens)
    owner = Client(j, "127.0.0.2")
    first = owner.login()
    device, refresh = first.headers["X-Device-Token"], first.json()["refresh"]
    alice_device = Client(j, "127.0.0.4").login(user="alice").headers["X-Device-Token"]
    browser = Client(j, "127.0.0.5")
    r = browser.post("/api/auth/login/", {"username": "testuser", "password": TEST_PASSWORD})
    assert r.status_code == 200 and browser.http.cookies.get("device_token")

    # 20 addresses, 3 guesses each: at most the account's untrusted budget gets through
    codes = []
    for x in range(10, 30):
        codes += guess(Client(j, "127.0.0.%d" % x), 3)
    assert codes.count(401) == ACCOUNT_BOUND, codes
    assert codes.count(429) == len(codes) - ACCOUNT_BOUND

    # untrusted clients of this account are refused now, even with the right password
    fresh = Client(j, "127.0.0.200")
    r = fresh.login()
    assert r.status_code == 429 and r.json()["code"] == "throttled", r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 3600
    # forged, altered, other users' and foreign device tokens give no bypass
    head, payload, sig = device.split(".")
    claims = json.loads(b64d(payload))
    other = dict(claims, device="f" * 32)
    for bad in (
        "not-a-token",
        device[:-4] + ("AAAA" if not device.endswith("AAAA") else "BBBB"),
        "%s.%s.%s" % (head, b64e(json.dumps(other).encode()), sig),
        "%s.%s." % (b64e(b'{"alg":"none","typ":"JWT"}'), payload),
        alice_device,
    ):
        r = fresh.login(device=bad)
        assert r.status_code == 429, (bad, r.text)

    # the owner's devices sign in: the body field from a fresh address...
    r = fresh.login(device=device)
    assert r.status_code == 200, r.text
    # ...on every login route...
    assert fresh.login(device=device, path="/auth/login").status_code == 200
    assert fresh.login(device=device, path="/api/auth/mobile/login/").status_code == 200
    # ...and the browser's cookie (it holds the refresh cookie too: same-origin request)
    r = browser.post("/api/auth/login/", {"username": "testuser", "password": TEST_PASSWORD},
                     headers={"Origin": j.url})
    assert r.status_code == 200, r.text
    # alice is not affected at all
    assert Client(j, "127.0.0.201").login(user="alice").status_code == 200
    # the session from before the attack refreshes, and its access token works
    r = owner.post("/api/token/refresh/", {"refresh": refresh})
    assert r.status_code == 200, r.text
    assert j.me(r.json()["access"]).status_code == 200
    # and the guessing goes on being refused
    assert guess(Client(j, "127.0.0.31"), 2) == [429, 429]


def test_a_stolen_device_token_buys_only_its_own_budget(tokens):  # noqa: F811
    j = server(tokens)
    laptop = Client(j, "127.0.0.2").login().headers["X-Device-Token"]
    phone = Client(j, "127.0.0.3").login().headers["X-Device-Token"]
    thief = Client(j, "127.0.0.77")
    codes = [thief.login("wrong-%d" % i, device=laptop).status_code for i in range(6)]
    assert codes == [401] * 3 + [429] * 3, codes
    # the laptop's token is locked, even with the right password; the phone is not, nor
    # are untrusted clients (the device's failures are not the account's)
    assert Client(j, "127.0.0.2").login(device=laptop).status_code == 429
    assert Client(j, "127.0.0.3").login(device=phone).status_code == 200
    assert Client(j, "127.0.0.4").login().status_code == 200


def test_right_password_never_spends_the_budgets(tokens):  # noqa: F811
    j = server(tokens)
    c = Client(j, "127.0.0.2")
    # more successes than any failure budget holds, trusted and untrusted
    for _ in range(4):
        assert c.login().status_code == 200
    device = c.login().headers["X-Device-Token"]
    for _ in range(4):
        assert Client(j, "127.0.0.3").login(device=device).status_code == 200
    # the failure budgets are whole: two failures from this address still get a 401
    assert guess(Client(j, "127.0.0.9"), 3) == [401, 401, 429]


def test_shared_through_redis(redis_server):  # noqa: F811
    from conftest import JwtdServer
    redis = redis_server()
    base = dict(LIMITS, JWTD_REDIS_URL=redis.url)
    first = JwtdServer(env=token_env(**base), workers=2)
    base["JWTD_DATABASE_URL"] = "sqlite:%s/shared.db" % first.data_dir
    first.env["JWTD_DATABASE_URL"] = base["JWTD_DATABASE_URL"]
    a = Jwtd(first)
    a.create_user()
    first.start()
    b = None
    try:
        b = Jwtd(JwtdServer(env=token_env(**base), workers=2).start())
        got = Client(a, "127.0.0.2").login()
        device, refresh = got.headers["X-Device-Token"], got.json()["refresh"]
        # guesses spread over both instances and many addresses share one bound
        codes = []
        for x in range(40, 60):
            for i in range(3):
                codes.append(Client(a if (x + i) % 2 else b, "127.0.0.%d" % x)
                             .login("wrong-%d" % i).status_code)
        assert 1 <= codes.count(401) <= ACCOUNT_BOUND, codes
        assert codes.count(401) + codes.count(429) == len(codes)
        for j in (a, b):
            assert Client(j, "127.0.0.201").login().status_code == 429
        # the device token from A passes on B, and the refresh works on B
        r = Client(b, "127.0.0.201").login(device=device)
        assert r.status_code == 200, r.text
        r = Client(b, "127.0.0.2").post("/api/token/refresh/", {"refresh": refresh})
        assert r.status_code == 200, r.text
    finally:
        if b:
            b.srv.stop()
        first.stop()


@pytest.mark.parametrize("path", ["/api/token/", "/auth/login"])
def test_bad_device_token_field_is_a_clear_error(tokens, path):  # noqa: F811
    j = server(tokens)
    c = Client(j, "127.0.0.2")
    r = c.post(path, {"username": "testuser", "password": TEST_PASSWORD,
                      "device_token": ["x"]})
    assert r.status_code == 400, r.text
    assert "device_token" in r.json()
