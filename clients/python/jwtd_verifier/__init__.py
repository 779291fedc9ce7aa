"""jwtd_verifier: verify jwtd's access tokens in a Python service, with revocations.

    from jwtd_verifier import Verifier
    verifier = Verifier("http://jwtd:8000", verifier_key=os.environ["JWTD_VERIFIER_KEY"])
    verifier.start()          # JWKS + the revocation feed, followed in a background thread
    claims = verifier.verify(token)

Signatures are checked locally against jwtd's JWKS (refetched on an unknown kid, at most
once per `jwks_refetch_interval`); revocations (logout, logout-all, password change,
refresh-token reuse) arrive through jwtd's revocation feed (GET /auth/revocations/stream)
and are checked in memory, so a request costs no network hop. See README.md.
"""

from .verifier import (  # noqa: F401
    FeedStale,
    InvalidToken,
    RevocationSet,
    RevokedToken,
    Verifier,
)

__all__ = ["Verifier", "RevocationSet", "InvalidToken", "RevokedToken", "FeedStale"]
