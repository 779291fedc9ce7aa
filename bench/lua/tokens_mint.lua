-- bench/run-tokens: mints a pool of never-used refresh tokens by logging in (POST
-- /api/token/) as $BENCH_USER, and appends each response's "refresh" to $POOL.<thread>
-- (one token per line). Used against a jwtd started with cheap argon2 parameters on the
-- benchmark database, before the measured server starts; each login is its own session.
local threads = {}
local counter = 0

function setup(thread)
    thread:set("tid", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

function init(args)
    local user = os.getenv("BENCH_USER") or "pooluser"
    local password = os.getenv("BENCH_PASSWORD") or "testpass123"
    out = assert(io.open(assert(os.getenv("POOL"), "POOL not set") .. "." .. tid, "w"))
    minted = 0
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.body = '{"username":"' .. user .. '","password":"' .. password .. '"}'
end

function response(status, headers, body)
    if status == 200 then
        local r = body:match('"refresh"%s*:%s*"([^"]+)"')
        if r then
            out:write(r, "\n")
            minted = minted + 1
        end
    end
end

function done(summary, latency, requests)
    for _, t in ipairs(threads) do
        io.write(string.format("mint thread %d: %d refresh tokens\n", t:get("tid"), t:get("minted")))
    end
end
