-- Data retention: the sweep deletes runs (with their readings and rollups, by cascade) whose
-- deadline is older than the retention period, oldest first.
CREATE INDEX runs_deadline ON runs (deadline);
