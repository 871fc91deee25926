-- Runs and readings of iot-playground.
--
-- Text keys use COLLATE "C" (byte order) so that SQL ordering and keyset comparisons agree with
-- the domain's `Ord` on ASCII identifiers, whatever the database's default collation.

CREATE TABLE runs (
    id            uuid             PRIMARY KEY,
    username      text COLLATE "C" NOT NULL,
    status        text COLLATE "C" NOT NULL
                  CHECK (status IN ('RUNNING', 'SUCCESS', 'FAILED', 'CANCELED', 'TIMEOUT')),
    started_at    timestamptz      NOT NULL,
    finished_at   timestamptz,
    deadline      timestamptz      NOT NULL,
    duration_secs integer          NOT NULL CHECK (duration_secs >= 0),
    interval_secs double precision NOT NULL,
    sensor_ids    text[]           NOT NULL,
    error_message text,
    grafana_url   text
);

-- Newest-first listing of all runs, keyset on (started_at, id).
CREATE INDEX runs_started ON runs (started_at DESC, id DESC);
-- Newest-first listing of one user's runs.
CREATE INDEX runs_user_started ON runs (username, started_at DESC, id DESC);
-- Newest-first listing filtered by a stored status (SUCCESS, FAILED, CANCELED).
CREATE INDEX runs_status_started ON runs (status, started_at DESC, id DESC);
-- Runs stored RUNNING: capacity counts, the running board, the timeout sweep (by deadline).
CREATE INDEX runs_running_deadline ON runs (deadline) WHERE status = 'RUNNING';
-- Runs stored RUNNING of one user: per-user capacity count.
CREATE INDEX runs_running_user ON runs (username, deadline) WHERE status = 'RUNNING';

CREATE TABLE readings (
    run_id    uuid             NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    sensor_id text COLLATE "C" NOT NULL,
    type      text COLLATE "C" NOT NULL CHECK (type IN ('temperature', 'humidity', 'pressure')),
    value     double precision NOT NULL,
    ts        timestamptz      NOT NULL,
    username  text COLLATE "C" NOT NULL,
    -- The idempotency key, in listing order: serves the ascending listing, keyset paging, the
    -- newest-first "latest" listing (backward scan) and the per-run summary.
    PRIMARY KEY (run_id, ts, sensor_id, type)
);

-- Listing and "latest" of one sensor of a run, in (ts, type) order within the sensor.
CREATE INDEX readings_run_sensor ON readings (run_id, sensor_id, ts, type);
