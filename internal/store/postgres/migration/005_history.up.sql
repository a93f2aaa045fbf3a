-- History that ages well (docs/operating.md).

-- ExecutionList by application and status, newest first: without it the
-- application's index is read to its end for a status none of its
-- executions has.
CREATE INDEX execution_application_status ON execution (application, status, created_at DESC, id DESC);

-- ExecutionList awaiting judgment: the few stages that wait for a person,
-- not every stage ever run.
CREATE INDEX stage_waiting_judgment ON stage (execution_id) WHERE type = 'manualJudgment' AND status = 'RUNNING';

-- Retention (ExecutionPurge) deletes an execution's trigger deliveries
-- with it, by execution_id.
CREATE INDEX trigger_delivery_execution_id ON trigger_delivery (execution_id);
