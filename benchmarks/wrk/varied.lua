-- Varied requests for benchmarks/bench_http.py: every request draws its regions and years at
-- random (math.random, seeded per thread), so no two requests need be the same question.
--   wrk -s varied.lua URL -- MODE REGIONS_FILE SEED [EXTRA]
-- REGIONS_FILE: one region a line, "code<TAB>name" (the WPP2019 rows with data).
-- MODE:
--   original   POST /test countries=NAME... from to   (the original app; it takes region names)
--   api        GET /api/forecast/?regions=CODE,CODE&from&to
--   form       POST / regions=CODE... from to, with the CSRF token; EXTRA = "TOKEN COOKIE"
--   api_runs   POST /api/runs/ {"regions": [...], "from", "to"} (JSON)
--   region     GET /regions/CODE/
--   run        GET /runs/ID/; EXTRA = comma-separated run ids
local mode, seed, extra
local codes, names, run_ids = {}, {}, {}
local MAX_REGIONS = 3
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_number", thread_count)
end

local function urlencode(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  mode = args[1]
  seed = tonumber(args[3] or "1")
  extra = args[4] or ""
  for line in io.lines(args[2]) do
    local code, name = line:match("^(%d+)\t(.+)$")
    if code then
      codes[#codes + 1] = code
      names[#names + 1] = name
    end
  end
  math.randomseed(seed * 1000 + (thread_number or 0))
  if mode == "run" then
    for id in extra:gmatch("%d+") do run_ids[#run_ids + 1] = id end
  end
end

-- Distinct random indexes into the regions, 1 to MAX_REGIONS of them.
local function pick()
  local chosen, seen = {}, {}
  for _ = 1, math.random(1, MAX_REGIONS) do
    local i = math.random(1, #codes)
    if not seen[i] then
      seen[i] = true
      chosen[#chosen + 1] = i
    end
  end
  return chosen
end

local function years()
  local first = math.random(2021, 2040)
  return first, first + math.random(0, 10)
end

local form_headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

function request()
  if mode == "region" then
    return wrk.format("GET", "/regions/" .. codes[math.random(1, #codes)] .. "/")
  elseif mode == "run" then
    return wrk.format("GET", "/runs/" .. run_ids[math.random(1, #run_ids)] .. "/")
  end
  local chosen = pick()
  local first, last = years()
  if mode == "original" then
    local parts = {}
    for _, i in ipairs(chosen) do parts[#parts + 1] = "countries=" .. urlencode(names[i]) end
    local body = table.concat(parts, "&") .. "&from=" .. first .. "&to=" .. last
    return wrk.format("POST", "/test", form_headers, body)
  elseif mode == "api" then
    local parts = {}
    for _, i in ipairs(chosen) do parts[#parts + 1] = codes[i] end
    return wrk.format(
      "GET", "/api/forecast/?regions=" .. table.concat(parts, ",") .. "&from=" .. first .. "&to=" .. last
    )
  elseif mode == "form" then
    local token, cookie = extra:match("^(%S+) (%S+)$")
    local parts = { "csrfmiddlewaretoken=" .. token }
    for _, i in ipairs(chosen) do parts[#parts + 1] = "regions=" .. codes[i] end
    local body = table.concat(parts, "&") .. "&from=" .. first .. "&to=" .. last
      .. "&method=damped&lags=3&level=0.95"
    local headers = {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Cookie"] = "csrftoken=" .. cookie,
    }
    return wrk.format("POST", "/", headers, body)
  elseif mode == "api_runs" then
    local parts = {}
    for _, i in ipairs(chosen) do parts[#parts + 1] = '"' .. codes[i] .. '"' end
    local body = '{"regions": [' .. table.concat(parts, ", ") .. '], "from": ' .. first
      .. ', "to": ' .. last .. "}"
    return wrk.format("POST", "/api/runs/", { ["Content-Type"] = "application/json" }, body)
  end
  error("unknown mode " .. tostring(mode))
end
