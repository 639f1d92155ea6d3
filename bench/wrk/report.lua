-- Shared by every scenario (loaded with dofile): answers are counted by status in each thread,
-- and `done` prints one line "BENCH {json}" that bench/run.py reads. wrk gives each thread its
-- own Lua state, so the counts are collected through the thread objects kept by `setup`.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
  thread:set("nthreads", tonumber(os.getenv("BENCH_THREADS") or "1"))
end

statuses = {}
completed = 0 -- what a scenario counts as one unit of work (a whole code flow, say)

function count(status)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local by, units = {}, 0
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses") or {}) do by[k] = (by[k] or 0) + v end
    units = units + (t:get("completed") or 0)
  end
  local parts = {}
  for k, v in pairs(by) do table.insert(parts, string.format('"%s":%d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"units":%d,"p50_us":%d,"p99_us":%d,' ..
    '"socket_errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, units, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, table.concat(parts, ",")))
end
