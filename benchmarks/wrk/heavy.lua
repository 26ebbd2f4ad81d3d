-- GET /api/forecast/ with the settings given after `--`, each request with a level no other
-- request uses, so the cache never answers and every request is computed:
--   wrk -s heavy.lua URL -- REGIONS FROM TO METHOD LAGS
-- The level is 0.9 followed by the thread's number and a counter: 0.9010000001, 0.9010000002, ...
local query
local counter = 0
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

function init(args)
  query = "/api/forecast/?regions=" .. args[1] .. "&from=" .. args[2] .. "&to=" .. args[3]
    .. "&method=" .. args[4] .. "&lags=" .. args[5]
end

function request()
  counter = counter + 1
  return wrk.format("GET", query .. string.format("&level=0.9%02d%07d", thread_number, counter))
end
