"""A FastAPI resource service that verifies jwtd's tokens with clients/python (jwtd_verifier),
set up exactly as clients/python/README.md shows; test_revocation_feed.py runs it.

Environment: JWTD_URL, JWTD_VERIFIER_KEY (the README's), and for the harness PORT_FILE (the
bound port is written there) and VERIFIER_FAIL_CLOSED / VERIFIER_MAX_STALENESS /
VERIFIER_KEEPALIVE_TIMEOUT.
"""

import os
import socket

import uvicorn
from fastapi import Depends, FastAPI

from jwtd_verifier import Verifier

# --- the README's setup ------------------------------------------------------------------
verifier = Verifier(os.environ["JWTD_URL"], verifier_key=os.environ["JWTD_VERIFIER_KEY"],
                    fail_closed=os.environ.get("VERIFIER_FAIL_CLOSED") == "1",
                    max_staleness=float(os.environ.get("VERIFIER_MAX_STALENESS", "30")),
                    keepalive_timeout=float(os.environ.get("VERIFIER_KEEPALIVE_TIMEOUT", "40")))
verifier.start()
app = FastAPI()
current_claims = verifier.fastapi_dependency()


@app.get("/protected")
def protected(claims: dict = Depends(current_claims)):
    return {"message": "Authenticated", "user_id": claims["user_id"],
            "username": claims.get("username")}
# -----------------------------------------------------------------------------------------


@app.get("/_feed")
def feed_state():
    """For the tests: how current the revocation set is."""
    return {"ready": verifier.ready.is_set(), "connected": verifier.connected,
            "staleness": None if verifier.staleness == float("inf") else verifier.staleness,
            "last_event_id": verifier.last_event_id, "events": verifier.events_applied,
            "entries": len(verifier.revocations)}


if __name__ == "__main__":
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets whose proto says TCP, and
    # without it every answer waits for the client's delayed ACK (40 ms), as `uvicorn --port`
    # never does
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    with open(os.environ["PORT_FILE"] + ".tmp", "w") as f:
        f.write(str(sock.getsockname()[1]))
    os.rename(os.environ["PORT_FILE"] + ".tmp", os.environ["PORT_FILE"])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
