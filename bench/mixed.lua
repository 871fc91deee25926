-- Mixed traffic, in a fixed cycle of 100 requests per thread:
--   80 single readings into the run RUN_ID (no timestamp: the server stamps them),
--    5 batches of BATCH (100) readings into RUN_ID, with client timestamps unique per thread and
--      request,
--    5 pages of RUN_ID's readings (`limit=50`),
--    4 summaries of RUN_ID,
--    3 starts of a run by the thread's own user (`mix-<thread>`),
--    3 finishes of a run that thread started (a single reading when none is waiting).
-- Run id and user of RUN_ID come from the environment. At the end it prints the number of
-- `503` answers and of other non-2xx answers ("status 503: N", "status other non-2xx: N"), and
-- the other non-2xx by status ("other statuses: 409=N 429=M", "-" when there are none).
local common = require("bench.wrk_common")
local run_id, user, sensors = common.run_id, common.user, common.sensors
local batch = tonumber(os.getenv("BATCH") or "100")
setup = common.setup

init = function()
  counter = 0
  status_503 = 0
  status_other = 0
  other_codes = {}
  pending = {}
  mix_user = "mix-" .. thread_no
end

local function single()
  local body = string.format('{"sensorId":"sensor-%d","type":"temperature","reading":%.2f}',
    counter % sensors, 15 + (counter % 200) / 10)
  return wrk.format("POST", "/api/sensors/data",
    { ["Content-Type"] = "application/json", ["X-User"] = user, ["X-Run-Id"] = run_id }, body)
end

local function batch_of_readings()
  -- one second of readings per request and thread, from 2030-01-01 on
  local base = 1893456000 + thread_no * 10000000 + counter
  local parts = {}
  for i = 0, batch - 1 do
    parts[#parts + 1] = string.format(
      '{"sensorId":"sensor-%d","type":"humidity","reading":%.1f,"timestamp":"%s.%06dZ"}',
      i % sensors, 40 + (i % 50) / 10, os.date("!%Y-%m-%dT%H:%M:%S", base), i)
  end
  return wrk.format("POST", "/api/runs/" .. run_id .. "/readings",
    { ["Content-Type"] = "application/json", ["X-User"] = user },
    '{"readings":[' .. table.concat(parts, ",") .. ']}')
end

request = function()
  counter = counter + 1
  local slot = counter % 100
  if slot < 80 then
    return single()
  elseif slot < 85 then
    return batch_of_readings()
  elseif slot < 90 then
    return wrk.format("GET", "/api/runs/" .. run_id .. "/readings?limit=50", { ["X-User"] = user })
  elseif slot < 94 then
    return wrk.format("GET", "/api/runs/" .. run_id .. "/summary", { ["X-User"] = user })
  elseif slot < 97 then
    return wrk.format("POST", "/api/runs/start",
      { ["Content-Type"] = "application/json", ["X-User"] = mix_user },
      '{"sensorIds":["sensor-0","sensor-1"],"duration":3600}')
  else
    local id = table.remove(pending)
    if id == nil then
      return single()
    end
    return wrk.format("POST", "/api/runs/" .. id .. "/finish",
      { ["Content-Type"] = "application/json", ["X-User"] = mix_user }, '{"status":"SUCCESS"}')
  end
end

response = function(status, headers, body)
  if status == 503 then
    status_503 = status_503 + 1
  elseif status >= 300 then
    status_other = status_other + 1
    other_codes[status] = (other_codes[status] or 0) + 1
  elseif status == 201 and string.find(body, '"params"', 1, true) then
    -- a started run (a stored reading has no "params")
    local id = string.match(body, '"id":"([%x%-]+)"')
    if id then
      table.insert(pending, id)
    end
  end
end

done = function(summary, latency, requests)
  local n503, other, codes = 0, 0, {}
  for _, thread in ipairs(common.threads) do
    n503 = n503 + thread:get("status_503")
    other = other + thread:get("status_other")
    for code, n in pairs(thread:get("other_codes")) do
      codes[code] = (codes[code] or 0) + n
    end
  end
  local listed = {}
  for code, n in pairs(codes) do
    listed[#listed + 1] = string.format("%d=%d", code, n)
  end
  table.sort(listed)
  io.write(string.format("status 503: %d\nstatus other non-2xx: %d\nother statuses: %s\n", n503,
    other, #listed > 0 and table.concat(listed, " ") or "-"))
end
