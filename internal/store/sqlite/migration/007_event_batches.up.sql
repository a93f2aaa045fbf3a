-- A row of event is now a batch: the events one write appends to an
-- execution's log (an engine step writes four or so), with IDs id ..
-- id + n - 1. One row per step instead of one per event spares each event
-- its row, its two index entries and its foreign-key check. (Postgres's
-- migration 008 does the same; this store has no 007 of its own.)
--
-- Rows written before hold one event each and keep their IDs. A new
-- batch's ID is the next multiple of 64 (store.EventBatchSpan) above the
-- highest ID ever drawn, which AUTOINCREMENT keeps in sqlite_sequence; the
-- insert computes it (sqlstore's EventInsert).
ALTER TABLE event ADD COLUMN n INTEGER NOT NULL DEFAULT 1 CHECK (n BETWEEN 1 AND 64);
ALTER TABLE event ADD COLUMN events TEXT NOT NULL DEFAULT '[]';

-- Each element is {"stage_id", "type", "data"}, without "data" when there
-- was none; created_at stays the row's. The data goes in as it was, byte
-- for byte (json() would minify it).
UPDATE event SET events = '[{"stage_id":' || json_quote(stage_id) || ',"type":' || json_quote(type)
    || CASE WHEN data IS NULL THEN '' ELSE ',"data":' || data END || '}]';

ALTER TABLE event DROP COLUMN stage_id;
ALTER TABLE event DROP COLUMN type;
ALTER TABLE event DROP COLUMN data;
