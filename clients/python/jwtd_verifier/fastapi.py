"""The FastAPI dependency of jwtd_verifier.

    from fastapi import Depends, FastAPI
    app = FastAPI()
    current = verifier.fastapi_dependency()

    @app.get("/protected")
    def protected(claims: dict = Depends(current)):
        return {"user_id": claims["user_id"]}

401 {"detail": ...} for a missing, invalid or revoked token (with WWW-Authenticate: Bearer),
503 when the feed is stale and the verifier fails closed: FastAPI's own error shape.
"""

from fastapi import HTTPException, Request

from .verifier import FeedStale, InvalidToken, RevokedToken


def _unauthorized(detail, code, presented):
    www = 'Bearer realm="api"' + (', error="invalid_token"' if presented else "")
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": www})


def dependency(verifier):
    """Returns a dependency that yields the verified claims of the request's Bearer token."""

    def current_claims(request: Request):
        auth = request.headers.get("authorization", "")
        parts = auth.split()
        if not parts:
            raise _unauthorized("Authentication credentials were not provided.",
                                "not_authenticated", False)
        if len(parts) != 2 or parts[0] != "Bearer":
            raise _unauthorized("Authorization header must contain two space-delimited values",
                                "bad_authorization_header", True)
        try:
            return verifier.verify(parts[1])
        except FeedStale:
            raise HTTPException(status_code=503,
                                detail="Service temporarily unavailable, try again later.") from None
        except RevokedToken:
            raise _unauthorized("Token is blacklisted", "token_not_valid", True) from None
        except InvalidToken as e:
            raise _unauthorized(str(e) or "Given token not valid for any token type",
                                "token_not_valid", True) from None

    return current_claims
