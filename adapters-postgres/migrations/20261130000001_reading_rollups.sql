-- Per (run, sensor, type) rollup of the readings: what a run summary reports, kept current in the
-- transaction of every write to `readings`, so a summary reads one row per sensor and type
-- instead of every reading of the run.
--
-- A statement-level trigger folds all rows of one INSERT (a single reading, a group of single
-- readings, a batch, a COPY) into one upsert per key, in key order: two writers touching the same
-- keys lock them in the same order.

CREATE TABLE reading_rollups (
    run_id    uuid             NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    sensor_id text COLLATE "C" NOT NULL,
    type      text COLLATE "C" NOT NULL,
    n         bigint           NOT NULL,
    lo        double precision NOT NULL,
    hi        double precision NOT NULL,
    total     double precision NOT NULL,
    first_ts  timestamptz      NOT NULL,
    last_ts   timestamptz      NOT NULL,
    PRIMARY KEY (run_id, sensor_id, type)
);

CREATE FUNCTION readings_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reading_rollups AS r (run_id, sensor_id, type, n, lo, hi, total, first_ts, last_ts)
    SELECT run_id, sensor_id, type, count(*), min(value), max(value), sum(value ORDER BY ts),
           min(ts), max(ts)
    FROM inserted
    GROUP BY run_id, sensor_id, type
    ORDER BY run_id, sensor_id, type
    ON CONFLICT (run_id, sensor_id, type) DO UPDATE
       SET n = r.n + EXCLUDED.n,
           lo = least(r.lo, EXCLUDED.lo),
           hi = greatest(r.hi, EXCLUDED.hi),
           total = r.total + EXCLUDED.total,
           first_ts = least(r.first_ts, EXCLUDED.first_ts),
           last_ts = greatest(r.last_ts, EXCLUDED.last_ts);
    RETURN NULL;
END
$$;

CREATE TRIGGER readings_rollup AFTER INSERT ON readings
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION readings_rollup();

-- Readings stored before this migration.
INSERT INTO reading_rollups (run_id, sensor_id, type, n, lo, hi, total, first_ts, last_ts)
SELECT run_id, sensor_id, type, count(*), min(value), max(value), sum(value ORDER BY ts),
       min(ts), max(ts)
FROM readings
GROUP BY run_id, sensor_id, type;
