-- Retention (ExecutionPurge) deletes an execution's trigger deliveries
-- with it, by execution_id.
CREATE INDEX trigger_delivery_execution_id ON trigger_delivery (execution_id);
