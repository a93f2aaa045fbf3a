-- An engine step updates a stage or two, and each update changes the
-- stage's status. Postgres can make such an update a heap-only tuple (HOT:
-- the new version on the same page, no new index entries) only when no
-- index names a changed column — in its key or its predicate — and the
-- page has room. stage_waiting_judgment named status in its predicate, so
-- every stage update added an entry to each of stage's indexes, and a
-- table filled to 100% had no room anyway.
--
-- The index that finds the executions awaiting judgment now names only the
-- stage's type, which never changes: ExecutionList probes it for the
-- running executions and checks the status on the row. It holds every
-- judgment stage still in the history, not only the waiting ones; a list
-- starts from the running executions, so that costs it nothing.
DROP INDEX stage_waiting_judgment;
CREATE INDEX stage_judgment ON stage (execution_id) WHERE type = 'manualJudgment';

-- Room on each page for a stage's next versions. Only pages written from
-- now on get it.
ALTER TABLE stage SET (fillfactor = 70);
