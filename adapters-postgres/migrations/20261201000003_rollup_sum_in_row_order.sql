-- The rollup trigger sums the values of a statement's rows in the order the statement wrote them
-- (a batch, a group of single readings: key order) instead of sorting each group by timestamp
-- first. The sorted aggregate made PostgreSQL sort every (run, sensor, type) group on its own and
-- ruled out hashing the groups: about a fifth of a 1000-reading batch's trigger time. A total was
-- never independent of how readings were split into statements (each statement adds its own sum
-- to the stored one), so the order bought no exactness.

CREATE OR REPLACE FUNCTION readings_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO reading_rollups AS r (run_id, sensor_id, type, n, lo, hi, total, first_ts, last_ts)
    SELECT run_id, sensor_id, type, count(*), min(value), max(value), sum(value), min(ts), max(ts)
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
