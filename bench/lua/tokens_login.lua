-- bench/run-tokens: POST /api/token/ {"username": $BENCH_USER, "password": $BENCH_PASSWORD}
-- (the same user every time, as the peers' login.lua).
local user = os.getenv("BENCH_USER") or "testuser"
local password = os.getenv("BENCH_PASSWORD") or "testpass123"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"' .. user .. '","password":"' .. password .. '"}'
