-- GET /api/forecast/ with the settings given after `--`, each request with a level no other
-- request uses, so the cache never answers and every request is computed:
--   wrk -s heavy.lua URL -- REGIONS FROM TO METHOD LAGS
-- The level is 0.9 followed by the thread's number and a counter: 0.9010000001, 0.9010000002, ...
-- At the end it prints how many answers had each status ("status 429: 812"): refusals by the
-- forecast budget are expected, anything 5xx is not.
local query
local counter = 0
local thread_count = 0
local threads = {}
statuses = {}

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
  table.insert(threads, thread)
end

function init(args)
  query = "/api/forecast/?regions=" .. args[1] .. "&from=" .. args[2] .. "&to=" .. args[3]
    .. "&method=" .. args[4] .. "&lags=" .. args[5]
end

function request()
  counter = counter + 1
  return wrk.format("GET", query .. string.format("&level=0.9%02d%07d", thread_number, counter))
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  for status, count in pairs(total) do
    io.write(string.format("status %d: %d\n", status, count))
  end
end
