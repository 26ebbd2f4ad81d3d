-- GET the paths given after `--` in turn, one per request, e.g.
--   wrk -c64 -d30s -s benchmarks/wrk/paths.lua http://127.0.0.1:8000 -- / /regions/ /api/regions/
local paths = {}
local counter = 0

function init(args)
  for _, path in ipairs(args) do
    paths[#paths + 1] = path
  end
  if #paths == 0 then
    paths[1] = "/"
  end
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end
