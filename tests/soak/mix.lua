-- wrk script of the soak test (tests/soak/soak.py): a weighted mix of requests read from
-- the file in SOAK_PLAN (one request per line: expected status, method, path, JSON body or
-- "-", Authorization value or "-", separated by TABs). Each request carries
-- X-Request-Id: e<status>-<n>; jwtd echoes it, so response() knows what was expected
-- whatever the connection count, and counts every answer that differs (a bad token
-- accepted, a good one refused, any 5xx). done() prints one JSON line with the totals.

local plan = {}
local threads = {}

local function split(s)
  local out = {}
  for field in (s .. "\t"):gmatch("([^\t]*)\t") do out[#out + 1] = field end
  return out
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(os.getenv("SOAK_PLAN"), "r"))
  for line in f:lines() do
    local p = split(line)
    local headers = {["Content-Type"] = "application/json"}
    if p[5] ~= "-" then headers["Authorization"] = p[5] end
    plan[#plan + 1] = {expect = p[1], method = p[2], path = p[3],
                       body = (p[4] ~= "-") and p[4] or nil, headers = headers}
  end
  f:close()
  n = 0
  wrong = 0
  fivexx = 0
  unmatched = 0
  first_wrong = ""
end

function request()
  n = n + 1
  local r = plan[(n % #plan) + 1]
  r.headers["X-Request-Id"] = "e" .. r.expect .. "-" .. n
  return wrk.format(r.method, r.path, r.headers, r.body)
end

function response(status, headers, body)
  if status >= 500 then fivexx = fivexx + 1 end
  local rid = headers["X-Request-Id"] or headers["x-request-id"]
  if not rid then
    unmatched = unmatched + 1
    return
  end
  local expect = tonumber(rid:match("^e(%d+)-"))
  if expect ~= status then
    wrong = wrong + 1
    if first_wrong == "" then first_wrong = rid .. " got " .. status end
  end
end

function done(summary, latency, requests)
  local w, f, u, fw = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    w = w + t:get("wrong")
    f = f + t:get("fivexx")
    u = u + t:get("unmatched")
    if fw == "" then fw = t:get("first_wrong") end
  end
  io.write(string.format(
    '{"requests":%d,"errors_connect":%d,"errors_read":%d,"errors_write":%d,' ..
    '"errors_status":%d,"errors_timeout":%d,"wrong":%d,"fivexx":%d,"unmatched":%d,' ..
    '"first_wrong":"%s","duration_us":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout, w, f, u, fw, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
