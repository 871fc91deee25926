-- Shared by the wrk scripts of bench/ (loaded with `require "bench.wrk_common"`, from the
-- repository's root): the run, the user and the sensor count from the environment, and `setup`,
-- which numbers the threads (`thread_no`, a global of each thread's own state) and keeps them for
-- `done` (which runs in the main state).
local common = {
  run_id = os.getenv("RUN_ID"),
  user = os.getenv("BENCH_USER") or "bench",
  sensors = tonumber(os.getenv("SENSORS") or "100"),
  threads = {},
}
local next_thread = 0

function common.setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
  table.insert(common.threads, thread)
end

return common
