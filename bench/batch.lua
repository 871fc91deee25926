-- Batches of BATCH readings with client timestamps, unique per thread and request, so every
-- reading is new (a replayed batch would only count duplicates).
local common = require("bench.wrk_common")
local run_id, user, sensors = common.run_id, common.user, common.sensors
local batch = tonumber(os.getenv("BATCH") or "1000")
setup = common.setup

local counter = 0
wrk.method = "POST"
wrk.path = "/api/runs/" .. run_id .. "/readings"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-User"] = user

request = function()
  counter = counter + 1
  -- one second of readings per request and thread: 2026-01-01 + thread*10^6 s + counter s
  local base = 1767225600 + thread_no * 1000000 + counter
  local parts = {}
  for i = 0, batch - 1 do
    local sensor = i % sensors
    local micros = math.floor(i / sensors)
    parts[#parts + 1] = string.format(
      '{"sensorId":"sensor-%d","type":"temperature","reading":%.1f,"timestamp":"%s.%06dZ"}',
      sensor, 20 + (i % 50) / 10, os.date("!%Y-%m-%dT%H:%M:%S", base), micros)
  end
  return wrk.format(nil, nil, nil, '{"readings":[' .. table.concat(parts, ",") .. ']}')
end
