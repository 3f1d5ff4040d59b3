-- wrk script for the WeBox benchmark: POSTs one JSON body with the given headers and prints the run as one JSON line.
--   BENCH_BODY     the request body
--   BENCH_HEADERS  extra headers, one "name: value" a line
--   BENCH_KEYS     comma-separated bearer keys, one per wrk thread (round robin), optional
local threads = {}
local keys = {}
for key in string.gmatch(os.getenv("BENCH_KEYS") or "", "[^,]+") do
  table.insert(keys, key)
end

function setup(thread)
  thread:set("id", #threads + 1)
  if #keys > 0 then
    thread:set("key", keys[(#threads % #keys) + 1])
  end
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.body = os.getenv("BENCH_BODY") or "{}"
  wrk.headers["Content-Type"] = "application/json"
  for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
    local name, value = string.match(line, "^([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
  if key then wrk.headers["Authorization"] = "Bearer " .. key end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"durationUs":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latencyUs":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
