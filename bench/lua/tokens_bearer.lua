-- bench/run-tokens: GET with "Authorization: Bearer $TOKEN" (/api/users/me/ on jwtd and
-- Django; nginx gets the same header and ignores it).
local token = assert(os.getenv("TOKEN"), "TOKEN not set")
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. token
