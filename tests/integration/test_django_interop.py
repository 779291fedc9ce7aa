"""Interop with a Django + SimpleJWT site (issue 4 "Interop"; prepares issue 6).

The site is the test fixture tests/peers/django_site (peers.DjangoPeer: Django 3.2, DRF,
SimpleJWT 5.2.2, HS256 with a shared secret), started once for the module. Shown here:
  * a jwtd access token (same secret; testuser has id 1 on both sides) is accepted by
    SimpleJWT's JWTAuthentication on Django's /api/users/me/, although jwtd's user_id is a
    string and its header carries a kid;
  * a Django-issued access token (no kid, integer user_id) is accepted by jwtd through
    JWTD_TRUSTED_JWKS_FILE holding the secret as an `oct` JWK - and rejected by a jwtd
    that does not trust it;
  * tampered tokens are rejected both ways.
A missing Debian package fails the module with its name (peers.require_packages).
"""

import json
import os
import time

import pytest

import peers
from peers import (SHARED_SECRET, b64u, check_error, flip_data_bit, flip_padding_bits,
                   jwt_parts, resign, tamper_payload, tokens)  # noqa: F401 (fixtures)

OTHER_SECRET = "jwtd-own-secret-distinct-from-django-0123456789"

@pytest.fixture(scope="module")
def django():
    peer = peers.DjangoPeer(secret=SHARED_SECRET, alg="HS256").start()
    yield peer
    peer.stop()


def trusted_jwks(tmp_path, secret=SHARED_SECRET):
    path = os.path.join(str(tmp_path), "trusted-jwks.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"keys": [{"kty": "oct", "alg": "HS256", "k": b64u(secret.encode())}]}, f)
    return path


def django_me_ok(django, token):
    r = django.me(token)
    assert r.status_code == 200, "Django rejected the token: %d %s" % (r.status_code, r.text)
    return r.json()


def django_me_rejected(django, token):
    r = django.me(token)
    assert r.status_code == 401, "Django accepted a bad token: %d %s" % (r.status_code,
                                                                        r.text)
    assert r.json()["code"] == "token_not_valid", r.text


# --- jwtd -> Django -----------------------------------------------------------------------


def test_jwtd_token_accepted_by_django(django, tokens):
    j = tokens(JWTD_SECRET_KEY=SHARED_SECRET)
    pair = j.login()
    header, c = jwt_parts(pair["access"])
    assert "kid" in header and c["user_id"] == "1"
    me = django_me_ok(django, pair["access"])
    assert me == {"id": 1, "username": "testuser", "email": "test@example.com",
                  "first_name": "Test", "last_name": "User"}
    # a refreshed (rotated) jwtd access token too
    rotated = j.refresh(pair["refresh"]).json()
    django_me_ok(django, rotated["access"])
    # Django's /api/token/verify/ accepts the jwtd token as well
    import requests
    v = requests.post(django.url + "/api/token/verify/", json={"token": pair["access"]},
                      timeout=60)
    assert v.status_code == 200, v.text


def test_jwtd_tampered_rejected_by_django(django, tokens):
    j = tokens(JWTD_SECRET_KEY=SHARED_SECRET)
    pair = j.login()
    django_me_rejected(django, tamper_payload(pair["access"], user_id="2", role="admin"))
    django_me_rejected(django, flip_data_bit(pair["access"]))
    django_me_rejected(django, resign(pair["access"], OTHER_SECRET))
    # a jwtd refresh token is not an access token for SimpleJWT either
    django_me_rejected(django, pair["refresh"])


def test_jwtd_token_with_other_secret_rejected_by_django(django, tokens):
    j = tokens(JWTD_SECRET_KEY=OTHER_SECRET)
    django_me_rejected(django, j.login()["access"])


# --- Django -> jwtd -----------------------------------------------------------------------


def test_django_token_accepted_by_jwtd(django, tokens, tmp_path):
    j = tokens(JWTD_SECRET_KEY=OTHER_SECRET, JWTD_TRUSTED_JWKS_FILE=trusted_jwks(tmp_path))
    dj = django.login()
    header, c = jwt_parts(dj["access"])
    assert "kid" not in header and c["user_id"] == 1  # what SimpleJWT 5.2 issues
    r = j.me(dj["access"])
    assert r.status_code == 200, "jwtd rejected the Django token: %d %s" % (r.status_code,
                                                                           r.text)
    me = r.json()
    assert me["id"] == 1 and me["username"] == "testuser", me
    v = j.verify(dj["access"])
    assert v.status_code == 200, v.text
    # jwtd's own tokens keep working next to the trusted issuer
    assert j.me(j.login()["access"]).status_code == 200


def test_django_token_rejected_without_trust(django, tokens):
    j = tokens(JWTD_SECRET_KEY=OTHER_SECRET)
    r = j.me(django.login()["access"])
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "token_not_valid"


def test_django_tampered_rejected_by_jwtd(django, tokens, tmp_path):
    j = tokens(JWTD_SECRET_KEY=OTHER_SECRET, JWTD_TRUSTED_JWKS_FILE=trusted_jwks(tmp_path))
    dj = django.login()
    check_error(j.me(tamper_payload(dj["access"], user_id=2, role="admin")), 38,
                token_presented=True)
    check_error(j.me(flip_data_bit(dj["access"])), 38, token_presented=True)
    # Django itself accepts a padding-bit variant of its signature (golden 22); jwtd does not
    variant = flip_padding_bits(dj["access"])
    assert django.me(variant).status_code == 200
    check_error(j.me(variant), 38, token_presented=True)
    # a Django refresh token is not an access token
    check_error(j.me(dj["refresh"]), 36, token_presented=True)


def test_django_expired_token_rejected_by_jwtd(django, tokens, tmp_path):
    j = tokens(JWTD_SECRET_KEY=OTHER_SECRET, JWTD_TRUSTED_JWKS_FILE=trusted_jwks(tmp_path))
    expired = django.manage("mint_tokens", "--type", "access", "--expired",
                            "--user", "testuser").strip()
    assert jwt_parts(expired)[1]["exp"] < time.time()
    check_error(j.me(expired), 37, token_presented=True)
    assert django.me(expired).status_code == 401
