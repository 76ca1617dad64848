-- How far each source is complete: the provider time up to which its
-- collector has handed on every record the provider will ever list (its
-- position less the window it still re-reads for late records). Zero (the
-- epoch) while not known yet. `keytrail status` shows it; the streaming
-- correlator finalises an action only once every source is complete past
-- the action's deadline. schema.Migrate skips the statement when the column
-- exists (ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS).
ALTER TABLE source_status ADD COLUMN complete {{ts}} AFTER lag_ns;
