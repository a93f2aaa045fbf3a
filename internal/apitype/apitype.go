// Package apitype holds the JSON wire types of Sluice's HTTP API
// (/api/v1), shared by the server (httpapi) and the Go client (apiclient).
//
// It is a leaf: it imports only the standard library and package status,
// whose statuses it sends, and it holds data, not behaviour. Keys are camelCase everywhere, matching Spinnaker's
// pipeline and execution JSON so that users can move documents between the
// two. Times are Unix epoch milliseconds, as in Spinnaker; a time that has
// not happened yet is absent.
//
// Changing a field's name or meaning breaks every client: add fields, do
// not rename them.
package apitype

import (
	"encoding/json"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
)

// Millis converts t to Unix epoch milliseconds.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// MillisPtr converts t to Unix epoch milliseconds; nil stays nil.
func MillisPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

// Health is the body of GET /api/v1/health.
type Health struct {
	// Status is "ok" when the server can reach its database.
	Status  string `json:"status"`
	Version string `json:"version"`
	// Database is the store's SQL dialect: "sqlite" or "postgres".
	Database string `json:"database"`
	// LocalLambdaURL is the embedded local Lambda endpoint, empty when it
	// is not running.
	LocalLambdaURL string `json:"localLambdaUrl,omitempty"`
	// AdminTokenFile is where this server keeps its admin token. It is
	// told only to clients on this machine (loopback), which may read the
	// file if they run as the server's user: that is how the CLI finds
	// its credential without being given one.
	AdminTokenFile string `json:"adminTokenFile,omitempty"`
	// SingleSignOn is true when the console offers OpenID Connect login
	// (GET /api/v1/auth/oidc/login).
	SingleSignOn bool `json:"singleSignOn,omitempty"`
}

// Version is the body of GET /api/v1/version.
type Version struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
}

// Pipeline is one revision of a saved pipeline: the document and who saved
// it when.
type Pipeline struct {
	ID          string `json:"id"`
	Application string `json:"application"`
	Name        string `json:"name"`
	Revision    int    `json:"revision"`
	// UpdatedAt is when this revision was saved (epoch ms).
	UpdatedAt int64  `json:"updatedAt"`
	UpdatedBy string `json:"updatedBy"`
	// Document is the normalized pipeline document (Spinnaker pipeline
	// JSON). It is absent in lists.
	Document json.RawMessage `json:"document,omitempty"`
	// Warnings are what the save accepted but may not do what the author
	// meant — unknown (likely misspelled) keys, Spinnaker keys Sluice
	// keeps without acting on, triggers — each at its JSON path. Only the
	// answer to a save has them.
	Warnings []ErrorDetail `json:"warnings,omitempty"`
	// Triggers are the document's triggers with their last firing; only
	// GET /api/v1/pipelines/{app}/{name} has them.
	Triggers []TriggerStatus `json:"triggers,omitempty"`
}

// TriggerStatus is one of a pipeline's triggers and its last firing.
type TriggerStatus struct {
	// Key names the trigger in .../triggers/{key}: its id, or #<position>.
	Key      string `json:"key"`
	Position int    `json:"position"`
	Type     string `json:"type"`
	Source   string `json:"source,omitempty"`
	Enabled  bool   `json:"enabled"`
	// Runs says whether Sluice runs triggers of this type.
	Runs bool `json:"runs"`
	// LastFiredAt (epoch ms), LastExecutionID and LastOutcome describe
	// the last firing; absent when it never fired.
	LastFiredAt     *int64 `json:"lastFiredAt,omitempty"`
	LastExecutionID string `json:"lastExecutionId,omitempty"`
	LastOutcome     string `json:"lastOutcome,omitempty"`
}

// TriggerUpdate is the body of PATCH /api/v1/pipelines/{app}/{name}/triggers/{key}.
type TriggerUpdate struct {
	Enabled *bool `json:"enabled"`
}

// DeliveryResult is the answer to POST /webhooks/{type}/{source}: what the
// delivery did to each trigger it addressed and was allowed to fire.
type DeliveryResult struct {
	// Executions are the executions the delivery started.
	Executions []DeliveredExecution `json:"executions"`
	// Replayed are the triggers the same delivery ID had already fired;
	// they started nothing this time.
	Replayed []DeliveredTrigger `json:"replayed,omitempty"`
	// Failed are the triggers that matched but could not start their
	// pipeline (a required parameter missing, say), with why.
	Failed []DeliveredTrigger `json:"failed,omitempty"`
}

// DeliveredExecution is an execution a delivery started.
type DeliveredExecution struct {
	ID          string `json:"id"`
	Application string `json:"application"`
	Pipeline    string `json:"pipeline"`
	Trigger     string `json:"trigger"`
}

// DeliveredTrigger is a trigger a delivery addressed.
type DeliveredTrigger struct {
	Application string `json:"application"`
	Pipeline    string `json:"pipeline"`
	Trigger     string `json:"trigger"`
	Message     string `json:"message,omitempty"`
}

// PipelineList is the body of GET /api/v1/pipelines.
type PipelineList struct {
	Pipelines []Pipeline `json:"pipelines"`
}

// PipelineRevision describes one saved revision, without its document.
type PipelineRevision struct {
	ID          string `json:"id"`
	Application string `json:"application"`
	Name        string `json:"name"`
	Revision    int    `json:"revision"`
	CreatedAt   int64  `json:"createdAt"`
	CreatedBy   string `json:"createdBy"`
}

// PipelineRevisionList is the body of GET …/revisions, newest first.
type PipelineRevisionList struct {
	Revisions []PipelineRevision `json:"revisions"`
}

// ValidateResult is the body of a successful POST /api/v1/pipelines/validate.
// An invalid document gets a 400 Error whose details list the problems.
type ValidateResult struct {
	Valid bool `json:"valid"`
	// Summary is one line describing the pipeline, e.g. "app/name: 3 stages".
	Summary string `json:"summary"`
	// Warnings are what the document may not do as its author meant:
	// unknown (likely misspelled) keys, with the nearest known key;
	// Spinnaker keys Sluice keeps without acting on, with what Sluice does
	// instead; triggers Sluice does not run. Each has its JSON
	// path. They do not make the document invalid.
	Warnings []ErrorDetail `json:"warnings"`
}

// TriggerRequest is the body of POST /api/v1/pipelines/{app}/{name}/executions.
// Every field is optional.
type TriggerRequest struct {
	// Parameters are the values of the pipeline's parameterConfig; missing
	// ones take their defaults.
	Parameters map[string]any `json:"parameters,omitempty"`
	// Type is the trigger type recorded in the execution; "manual" when empty.
	Type string `json:"type,omitempty"`
	// Artifacts are Spinnaker artifacts ({type, reference, name, version,
	// location, artifactAccount, …}) the trigger brings; the pipeline's
	// expectedArtifacts are bound to them. See docs/artifacts.md.
	Artifacts []map[string]any `json:"artifacts,omitempty"`
	// ExpectedArtifactIDs are the ids of the expected artifacts this
	// trigger expects; absent: every one.
	ExpectedArtifactIDs []string `json:"expectedArtifactIds,omitempty"`
}

// Execution is one run of a pipeline.
type Execution struct {
	ID               string `json:"id"`
	Application      string `json:"application"`
	PipelineName     string `json:"pipelineName"`
	PipelineConfigID string `json:"pipelineConfigId"`
	// Revision is the pipeline revision the execution runs.
	Revision int `json:"revision"`
	// Status is one of NOT_STARTED, RUNNING, PAUSED, SUCCEEDED,
	// FAILED_CONTINUE, TERMINAL, CANCELED, STOPPED, SKIPPED.
	Status status.Status `json:"status"`
	// Trigger is the runtime trigger: {"type","user","parameters",…}.
	Trigger json.RawMessage `json:"trigger,omitempty"`
	User    string          `json:"user,omitempty"`
	// BuildTime is when the execution was created; StartTime and EndTime
	// when it started running and finished (epoch ms).
	BuildTime int64  `json:"buildTime"`
	StartTime *int64 `json:"startTime,omitempty"`
	EndTime   *int64 `json:"endTime,omitempty"`
	Canceled  bool   `json:"canceled"`
	// State is the engine's bookkeeping (pause records, cancel reason,
	// queue information) as a JSON object, passed through unchanged.
	State json.RawMessage `json:"state,omitempty"`
	// Notifications are the deliveries of the notifications of the
	// pipeline and its stages, in the order their events happened; absent
	// when there are none.
	Notifications []NotificationDelivery `json:"notifications,omitempty"`
	// Stages are in document order; absent in lists.
	Stages []Stage `json:"stages,omitempty"`
}

// Stage is one stage of an execution.
type Stage struct {
	ID                   string          `json:"id"`
	RefID                string          `json:"refId"`
	Name                 string          `json:"name"`
	Type                 string          `json:"type"`
	Status               status.Status   `json:"status"`
	RequisiteStageRefIDs []string        `json:"requisiteStageRefIds"`
	Context              json.RawMessage `json:"context,omitempty"`
	Outputs              json.RawMessage `json:"outputs,omitempty"`
	Tasks                json.RawMessage `json:"tasks,omitempty"`
	StartTime            *int64          `json:"startTime,omitempty"`
	EndTime              *int64          `json:"endTime,omitempty"`
	// JudgmentRoles are the roles one of which a principal needs to judge
	// this stage (admins may too): requiredJudgmentRoles, else
	// selectedStageRoles. Absent when anyone who may execute may judge.
	JudgmentRoles []string `json:"judgmentRoles,omitempty"`
	// Commands are the commands the running stage takes now (POST
	// …/stages/{stage}/commands): pause, resume, promote and abort for a
	// $PROGRESSIVE route. Absent when it takes none.
	Commands []string `json:"commands,omitempty"`
}

// ExecutionList is the body of GET /api/v1/executions, newest first.
type ExecutionList struct {
	Executions []Execution `json:"executions"`
	// NextCursor, passed back as ?cursor=, fetches the next page; empty on
	// the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// CancelRequest is the body of POST /api/v1/executions/{id}/cancel.
type CancelRequest struct {
	Reason string `json:"reason,omitempty"`
}

// Judgment statuses.
const (
	JudgmentContinue = "continue"
	JudgmentStop     = "stop"
)

// JudgmentRequest is the body of POST …/stages/{stage}/judgment.
type JudgmentRequest struct {
	// Status is "continue" or "stop".
	Status string `json:"status"`
	// Input is the chosen judgment input, read by #judgment('stage').
	Input string `json:"input,omitempty"`
}

// StageCommandRequest is the body of POST …/stages/{stage}/commands.
type StageCommandRequest struct {
	// Command is one of the stage's Commands: pause, resume, promote or
	// abort for a $PROGRESSIVE route.
	Command string `json:"command"`
}

// EvaluateRequest is the body of POST /api/v1/executions/{id}/evaluate.
type EvaluateRequest struct {
	// Expression is "${…}" or a bare expression body.
	Expression string `json:"expression"`
	// Stage is the stage (id, refId or name) whose context the expression
	// sees; empty evaluates at the execution level.
	Stage string `json:"stage,omitempty"`
}

// EvaluateResult is the body of a successful evaluation.
type EvaluateResult struct {
	Result any `json:"result"`
}

// ErrorBody is the body of every error response: {"error": {…}}.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error codes. A client branches on Code, never on Message.
const (
	CodeBadRequest           = "bad_request"
	CodeInvalidPipeline      = "invalid_pipeline"
	CodeInvalidCanaryConfig  = "invalid_canary_config"
	CodeInvalidParameters    = "invalid_parameters"
	CodeInvalidExpression    = "invalid_expression"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeConflict             = "conflict"
	CodeTooLarge             = "request_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeTooManyRequests      = "too_many_requests"
	CodeUnavailable          = "unavailable"
	CodeUnauthenticated      = "unauthenticated"
	CodeForbidden            = "forbidden"
	CodeHostNotAllowed       = "host_not_allowed"
	CodeInternal             = "internal"
)

// Error says what went wrong and, for validation, where.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Details lists every problem of an invalid document or request, each
	// with the JSON path of the offending value.
	Details []ErrorDetail `json:"details,omitempty"`
	// RequestID identifies the request in the server's log; set on
	// internal errors.
	RequestID string `json:"requestId,omitempty"`
}

// ErrorDetail is one problem at one JSON path, e.g.
// {"path": "stages[1].refId", "message": "missing; every stage needs a refId"}.
type ErrorDetail struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// NotificationDelivery is the record of one notification of an
// execution: which event, to whom, and how its delivery went.
type NotificationDelivery struct {
	// ID is the delivery's name, "<execution ID>/<n>", the same on every
	// attempt; receivers see it (X-Sluice-Delivery, the email's
	// Message-ID) and may drop a repeat.
	ID string `json:"id"`
	// Event is pipeline.starting|complete|failed, stage.starting|complete|failed,
	// manualJudgment, manualJudgmentContinue or manualJudgmentStop.
	Event string `json:"event"`
	// Type is slack, email, microsoftteams, googlechat or webhook.
	Type string `json:"type"`
	// Address is where it goes; a URL shows only its scheme and host,
	// since webhook URLs hold their secret in the path.
	Address string `json:"address"`
	// StageRefID is the stage of a stage or judgment event.
	StageRefID string `json:"stageRefId,omitempty"`
	// Status is PENDING (not tried yet), RETRYING (failed, will be tried
	// again), SUCCEEDED or FAILED (given up: the receiver refused it, or
	// every attempt failed).
	Status string `json:"status"`
	// Attempts is how many times it was sent.
	Attempts int `json:"attempts"`
	// Error is the last attempt's error.
	Error string `json:"error,omitempty"`
	// CreatedAt is when the event happened; LastAttemptAt when it was
	// last sent (epoch ms).
	CreatedAt     int64 `json:"createdAt"`
	LastAttemptAt int64 `json:"lastAttemptAt,omitempty"`
}

// Notification delivery statuses.
const (
	DeliveryPending   = "PENDING"
	DeliveryRetrying  = "RETRYING"
	DeliverySucceeded = "SUCCEEDED"
	DeliveryFailed    = "FAILED"
)
