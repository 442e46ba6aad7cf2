-- wrk script of bench/submit-rate: POSTs one JSON body, read from the file named by BENCH_BODY_FILE,
-- with "Authorization: Bearer $BENCH_KEY", on every connection, as fast as the answers come. Counts
-- the answers by HTTP status and prints the totals at the end as "BENCH ..." lines (wrk's own
-- summary says "Non-2xx or 3xx responses" only).
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do
      all[code] = (all[code] or 0) + n
    end
  end
  io.write(string.format("BENCH duration_s %.6f\n", summary.duration / 1e6))
  io.write(string.format("BENCH requests %d\n", summary.requests))
  for code, n in pairs(all) do
    io.write(string.format("BENCH status %d %d\n", code, n))
  end
  local e = summary.errors
  io.write(string.format("BENCH socket_errors %d\n", e.connect + e.read + e.write + e.timeout))
  for _, p in ipairs({ 50, 90, 99 }) do
    io.write(string.format("BENCH latency_ms_p%d %.3f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("BENCH latency_ms_max %.3f\n", latency.max / 1000))
end
