"""Client-fingerprint binding (issue 9): with JWTD_FINGERPRINT_HEADERS the tokens
of a session carry an fph claim (hash of the configured request headers); a refresh from a
client whose headers differ is refused on every refresh route (and logged), rotation
carries the binding over, and JWTD_FINGERPRINT_ACCESS extends the check to access tokens.
Off by default: no fph claim, any client may refresh."""

import requests

from attack import parts
from peers import TEST_PASSWORD, tokens  # noqa: F401 (fixture)

ALICE = {"User-Agent": "Firefox/120 (alice laptop)", "Accept-Language": "fr-FR"}
THIEF = {"User-Agent": "curl/8.0", "Accept-Language": "en-US"}
ORIGIN = {"Origin": "http://localhost:3000"}


def login(j, headers):
    r = requests.post(j.url + "/api/token/", json={"username": "testuser",
                                                  "password": TEST_PASSWORD},
                      headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def refresh(j, tok, headers, path="/api/token/refresh/", field="refresh"):
    return requests.post(j.url + path, json={field: tok}, headers=headers, timeout=30)


def test_off_by_default(tokens):
    j = tokens()
    pair = login(j, ALICE)
    assert "fph" not in parts(pair["refresh"])[1]
    assert refresh(j, pair["refresh"], THIEF).status_code == 200


def test_refresh_bound_to_client(tokens):
    j = tokens(JWTD_FINGERPRINT_HEADERS="User-Agent,Accept-Language")
    pair = login(j, ALICE)
    fph = parts(pair["refresh"])[1]["fph"]
    assert parts(pair["access"])[1]["fph"] == fph and len(fph) == 22
    # another client (a stolen token): refused, and the owner is not affected
    for path, field in (("/api/token/refresh/", "refresh"), ("/api/auth/refresh/", "refresh"),
                        ("/auth/refresh", "refresh_token")):
        r = refresh(j, pair["refresh"], dict(THIEF, **ORIGIN), path, field)
        assert r.status_code == 401 and r.json()["code"] == "token_not_valid", (path, r.text)
    # a header changed only slightly is another client too
    r = refresh(j, pair["refresh"], dict(ALICE, **{"Accept-Language": "fr-FR,en"}))
    assert r.status_code == 401
    # form body and cookie carry the token just as well
    r = requests.post(j.url + "/api/token/refresh/", data={"refresh": pair["refresh"]},
                      headers=THIEF, timeout=30)
    assert r.status_code == 401
    r = requests.post(j.url + "/api/auth/refresh/", cookies={"refresh_token": pair["refresh"]},
                      headers=dict(THIEF, **ORIGIN), timeout=30)
    assert r.status_code == 401
    # the owner refreshes; the successor keeps the binding
    r = refresh(j, pair["refresh"], ALICE)
    assert r.status_code == 200, r.text
    succ = r.json()["refresh"]
    assert parts(succ)[1]["fph"] == fph and parts(r.json()["access"])[1]["fph"] == fph
    assert refresh(j, succ, THIEF).status_code == 401
    assert refresh(j, succ, ALICE).status_code == 200
    # access tokens are not checked unless JWTD_FINGERPRINT_ACCESS
    assert j.get("/api/users/me/", token=pair["access"], headers=dict(THIEF)).status_code == 200


def test_access_binding(tokens):
    j = tokens(JWTD_FINGERPRINT_HEADERS="User-Agent", JWTD_FINGERPRINT_ACCESS="true")
    pair = login(j, ALICE)
    assert j.get("/api/users/me/", token=pair["access"],
                 headers=dict(ALICE)).status_code == 200
    r = j.get("/api/users/me/", token=pair["access"], headers=dict(THIEF))
    assert r.status_code == 401 and r.json()["code"] == "token_not_valid", r.text
    # Accept-Language is not a configured field here: changing it does not matter
    assert j.get("/api/users/me/", token=pair["access"], headers=dict(
        ALICE, **{"Accept-Language": "de"})).status_code == 200


def _refresh_from(j, tok, ip):
    return requests.post(j.url + "/api/token/refresh/", json={"refresh": tok},
                         headers={"X-Forwarded-For": ip}, timeout=30)


def test_refresh_family_from_distant_network_is_revoked(tokens):
    """The anomaly rule: the same refresh family from another /16 within the window
    -> session revoked (its access tokens die too) and logged; the same /16 is fine."""
    j = tokens(JWTD_REFRESH_ANOMALY_WINDOW="10m", JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    pair = login(j, {})
    r = _refresh_from(j, pair["refresh"], "10.1.2.3")
    assert r.status_code == 200, r.text
    r = _refresh_from(j, r.json()["refresh"], "10.1.200.7")  # same /16: a mobile hop
    assert r.status_code == 200, r.text
    succ = r.json()
    r = _refresh_from(j, succ["refresh"], "172.16.5.5")  # elsewhere: stolen
    assert r.status_code == 401 and r.json()["code"] == "token_not_valid", r.text
    assert j.me(succ["access"]).status_code == 401, "session not revoked"
    assert _refresh_from(j, succ["refresh"], "10.1.2.3").status_code == 401
    # other sessions are untouched; metrics count it
    other = login(j, {})
    assert _refresh_from(j, other["refresh"], "192.168.0.1").status_code == 200
    m = requests.get(j.url + "/metrics", timeout=30).text
    assert "jwtd_refresh_anomalies_total 1" in m


def test_anomaly_prefix_is_configurable_and_off_by_default(tokens):
    j = tokens(JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    pair = login(j, {})
    r = _refresh_from(j, pair["refresh"], "10.1.2.3")
    r = _refresh_from(j, r.json()["refresh"], "172.16.5.5")
    assert r.status_code == 200  # rule off
    j2 = tokens(JWTD_REFRESH_ANOMALY_WINDOW="1m", JWTD_REFRESH_ANOMALY_PREFIX="24",
                JWTD_TRUSTED_PROXIES="127.0.0.1/32")
    pair = login(j2, {})
    r = _refresh_from(j2, pair["refresh"], "10.1.2.3")
    assert r.status_code == 200
    r = _refresh_from(j2, r.json()["refresh"], "10.1.3.3")  # same /16, other /24
    assert r.status_code == 401, r.text
