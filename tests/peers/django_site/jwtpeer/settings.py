"""Settings of the test Django site: Django 3.2 + DRF + SimpleJWT 5.2.2 with the blacklist
app, configured from the environment by tests/integration/peers.py.

    JWT_ALG               HS256 (default), RS256 or ES256
    JWT_SECRET_KEY        HS256 secret (required for HS256)
    JWT_PRIVATE_KEY_FILE  PEM private key that signs (RS256/ES256)
    JWT_PUBLIC_KEY_FILE   PEM public key that verifies (RS256/ES256); it may be another
                          issuer's key (jwtd's), then this site accepts that issuer's tokens
    DJANGO_DB_PATH        SQLite file (default: db.sqlite3 in the current directory)
    DJANGO_PG_URL         postgresql://user@host:port/name instead of SQLite
"""

import os
from datetime import timedelta
from urllib.parse import urlparse


def _read(path_var):
    path = os.environ.get(path_var)
    if not path:
        raise RuntimeError("%s is required with JWT_ALG=%s" % (path_var, JWT_ALG))
    with open(path) as f:
        return f.read()


SECRET_KEY = "django-test-site-not-a-secret-" + "0" * 20
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "jwtpeer.urls"
WSGI_APPLICATION = "jwtpeer.wsgi.application"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "jwtpeer",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]

if os.environ.get("DJANGO_PG_URL"):
    _u = urlparse(os.environ["DJANGO_PG_URL"])
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": _u.path[1:],
                             "USER": _u.username or "", "PASSWORD": _u.password or "",
                             "HOST": _u.hostname or "", "PORT": _u.port or ""}}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                             "NAME": os.environ.get("DJANGO_DB_PATH", "db.sqlite3")}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

JWT_ALG = os.environ.get("JWT_ALG", "HS256")
if JWT_ALG == "HS256":
    _signing = os.environ.get("JWT_SECRET_KEY")
    if not _signing:
        raise RuntimeError("JWT_SECRET_KEY is required with JWT_ALG=HS256")
    _verifying = ""
elif JWT_ALG in ("RS256", "ES256"):
    _signing, _verifying = _read("JWT_PRIVATE_KEY_FILE"), _read("JWT_PUBLIC_KEY_FILE")
else:
    raise RuntimeError("JWT_ALG must be HS256, RS256 or ES256, not %r" % JWT_ALG)

# The usual SimpleJWT setup of a project that rotates and blacklists refresh tokens.
SIMPLE_JWT = {
    "ALGORITHM": JWT_ALG,
    "SIGNING_KEY": _signing,
    "VERIFYING_KEY": _verifying,
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=15),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

LOGGING = {"version": 1, "disable_existing_loggers": False,
           "handlers": {"stderr": {"class": "logging.StreamHandler"}},
           "root": {"handlers": ["stderr"], "level": "WARNING"},
           # every refused token would be logged at WARNING: the tests refuse many on purpose
           "loggers": {"django.request": {"level": "ERROR"}}}
