"""A small FastAPI + PyJWT resource service that trusts jwtd's access tokens: the recipe a
Python team follows to verify jwtd's tokens locally (docs/api.md, "For resource servers").

Configuration (environment):
    JWT_ALG              HS256, RS256 or ES256 (default RS256)
    JWT_SECRET_KEY       the shared HS256 secret (HS256 only)
    JWT_PUBLIC_KEY_FILE  PEM public key of the issuer (RS256/ES256), or
    JWKS_URL             jwtd's /.well-known/jwks.json: keys are picked by the token's kid

Routes, with the same answers as examples/resource-server-c:
    GET /                 {"status": "ok"}
    GET /protected        200 {"message": "Authenticated", "user_id", "username", "role"}
    GET /admin/dashboard  the same for role "admin", else 403 permission_denied
Errors are jwtd's `{"detail", "code"}`: 401 not_authenticated (no Bearer header),
bad_authorization_header, token_not_valid (bad signature, expired, not an access token).

Run: /usr/bin/python3 -m uvicorn main:app --host 127.0.0.1 --port PORT
"""

import os

import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ALG = os.environ.get("JWT_ALG", "RS256")
if ALG not in ("HS256", "RS256", "ES256"):
    raise RuntimeError("JWT_ALG must be HS256, RS256 or ES256, not %r" % ALG)
JWKS = jwt.PyJWKClient(os.environ["JWKS_URL"]) if os.environ.get("JWKS_URL") else None
if ALG == "HS256":
    KEY = os.environ["JWT_SECRET_KEY"]
elif JWKS is None:
    with open(os.environ["JWT_PUBLIC_KEY_FILE"]) as f:
        KEY = f.read()

app = FastAPI()


class Refused(Exception):
    def __init__(self, status, detail, code, www=None):
        super().__init__(detail)
        self.status, self.detail, self.code, self.www = status, detail, code, www


@app.exception_handler(Refused)
def refused(request, e):
    headers = {"WWW-Authenticate": e.www} if e.www else None
    return JSONResponse({"detail": e.detail, "code": e.code}, status_code=e.status,
                        headers=headers)


def access_claims(request: Request):
    """The verified claims of the request's Bearer access token, or Refused."""
    authz = request.headers.get("authorization", "")
    if not authz.startswith("Bearer "):
        raise Refused(401, "Authentication credentials were not provided.",
                      "not_authenticated", 'Bearer realm="api"')
    parts = authz.split(" ")
    if len(parts) != 2 or not parts[1]:
        raise Refused(401, "Authorization header must contain two space-delimited values",
                      "bad_authorization_header", 'Bearer realm="api"')
    token = parts[1]
    try:
        key = JWKS.get_signing_key_from_jwt(token).key if JWKS else KEY
        claims = jwt.decode(token, key, algorithms=[ALG],
                            options={"require": ["exp", "user_id", "token_type"]})
    except jwt.PyJWTError:
        claims = None
    if not claims or claims.get("token_type") != "access":
        raise Refused(401, "Token is invalid or expired", "token_not_valid",
                      'Bearer realm="api", error="invalid_token"')
    return claims


def answer(message, c):
    return {"message": message, "user_id": c["user_id"], "username": c.get("username"),
            "role": c.get("role")}


@app.get("/")
def root():
    return {"status": "ok"}


@app.get("/protected")
def protected(request: Request):
    return answer("Authenticated", access_claims(request))


@app.get("/admin/dashboard")
def admin_dashboard(request: Request):
    c = access_claims(request)
    if c.get("role") != "admin":
        raise Refused(403, "You do not have permission to perform this action.",
                      "permission_denied")
    return answer("Welcome to the admin dashboard", c)
