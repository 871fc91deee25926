-- A reading's run is checked once per statement and per (run, sensor, type) instead of once per
-- row: the foreign key from `readings` to `runs` checked (and share-locked) the run for every
-- inserted row, a quarter of the time of a 1000-reading batch in PostgreSQL.
--
-- What replaces it:
-- * on insert, the statement-level rollup trigger (`readings_rollup`) upserts one row per
--   (run, sensor, type) into `reading_rollups`, whose own foreign key to `runs` checks the run
--   whenever that row is new; an existing rollup row proves its run exists, since deleting a run
--   deletes its rollups (ON DELETE CASCADE) and the upsert's row lock makes a concurrent delete
--   wait for the insert to commit, then take its readings too. A reading of a missing run still
--   fails with a foreign-key violation (SQLSTATE 23503);
-- * on delete, a statement-level trigger on `runs` deletes the readings of the deleted runs, in
--   a statement of its own, so it sees readings committed while the delete waited.

ALTER TABLE readings DROP CONSTRAINT readings_run_id_fkey;

CREATE FUNCTION runs_delete_readings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM readings WHERE run_id IN (SELECT id FROM gone);
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_delete_readings AFTER DELETE ON runs
    REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION runs_delete_readings();

-- Readings left without a run would have been refused by the foreign key: there are none.
