-- The index that finds the executions awaiting judgment names only the
-- stage's type, as on Postgres, where an index naming status kept every
-- stage update from being heap-only (see Postgres's migration 006). Here it
-- also spares each status change of a judgment stage an index write.
-- ExecutionList probes it for the running executions and checks the status
-- on the row.
DROP INDEX stage_waiting_judgment;
CREATE INDEX stage_judgment ON stage (execution_id) WHERE type = 'manualJudgment';
