-- A manual DAG run is the triggering person's own act: it carries the verdict
-- of its trigger audit event (not "inherited"), and trigger_action_id names
-- that trigger. Empty for every other action. ClickHouse 18.16 has no
-- ADD COLUMN IF NOT EXISTS; schema.Migrate skips the statement when the
-- column exists, so a re-run is idempotent.
ALTER TABLE correlations ADD COLUMN trigger_action_id String AFTER verdict;
