-- One reading per request, as a device sends it: a sensor of the run, a value, no timestamp
-- (the server stamps it). Run id and user come from the environment.
local run_id = os.getenv("RUN_ID")
local user = os.getenv("BENCH_USER") or "bench"
local sensors = tonumber(os.getenv("SENSORS") or "100")
local counter = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-User"] = user
wrk.headers["X-Run-Id"] = run_id

request = function()
  counter = counter + 1
  local sensor = "sensor-" .. (counter % sensors)
  local body = string.format('{"sensorId":"%s","type":"temperature","reading":%.2f}',
    sensor, 15 + (counter % 200) / 10)
  return wrk.format(nil, nil, nil, body)
end
