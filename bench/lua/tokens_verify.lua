-- bench/run-tokens: POST /api/token/verify/ with {"token": $TOKEN} (SimpleJWT TokenVerifyView
-- shape), the same request for every server (jwtd, nginx, Django).
local token = assert(os.getenv("TOKEN"), "TOKEN not set")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"token":"' .. token .. '"}'
