-- bench/run-tokens: POST /api/token/refresh/ where every request uses a DIFFERENT, never-used
-- refresh token from the pool file $POOL (one per line), as the peers'
-- bench/lua/refresh_pool.lua does: with rotation each token is single-use, so re-sending
-- one would only measure the reuse path. Thread i takes lines i, i+T, i+2T... ($POOL_THREADS
-- = wrk -t), so threads never share a token; a thread that runs out wraps around (those
-- requests are reuse: 200 inside the grace, 401 after it) and says so in done().
local threads = {}
local nthreads = 0

function setup(thread)
    thread:set("tid", nthreads)
    nthreads = nthreads + 1
    table.insert(threads, thread)
end

function init(args)
    local path = assert(os.getenv("POOL"), "POOL not set")
    local total = assert(tonumber(os.getenv("POOL_THREADS")), "POOL_THREADS (= wrk -t) not set")
    tokens = {}
    local i = 0
    for line in io.lines(path) do
        if line ~= "" then
            if i % total == tid then
                table.insert(tokens, line)
            end
            i = i + 1
        end
    end
    idx = 0
    wrapped = 0
end

function request()
    idx = idx + 1
    if idx > #tokens then
        idx = 1
        wrapped = wrapped + 1
    end
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
        '{"refresh":"' .. tokens[idx] .. '"}')
end

function done(summary, latency, requests)
    for _, t in ipairs(threads) do
        io.write(string.format("pool thread %d: used %d tokens, wrapped %d times\n",
            t:get("tid"), t:get("idx"), t:get("wrapped")))
    end
end
