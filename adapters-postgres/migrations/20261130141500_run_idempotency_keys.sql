-- The Idempotency-Key a start was sent with: a retry with the same key (same user) gets the run
-- the first attempt created. Kept with the run, hence at least as long as the run can live.
ALTER TABLE runs ADD COLUMN idempotency_key text;

CREATE UNIQUE INDEX runs_username_idempotency_key
    ON runs (username, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
