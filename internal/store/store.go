// Package store owns Sluice's durable records: pipeline documents and their
// revisions, canary configs and their revisions, executions and their stages, the per-execution event log and the
// audit log. It declares one Store interface with two implementations, SQLite
// (package sqlite, the default) and Postgres (package postgres), and a
// conformance suite (package storetest) that both must pass.
//
// The store knows nothing of pipeline semantics: it persists what the engine
// and the API hand it and returns it unchanged. It must not import engine,
// stage or httpapi.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sluice-cd/sluice/internal/status"
)

// Sentinel errors. Implementations return them (possibly wrapped) and callers
// test with errors.Is.
var (
	// ErrNotFound is returned when the requested record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned when a write would violate uniqueness, e.g.
	// inserting an execution whose ID already exists.
	ErrConflict = errors.New("conflict")
)

// Dialect names the SQL database behind a Store.
type Dialect string

const (
	DialectSQLite   Dialect = "sqlite"
	DialectPostgres Dialect = "postgres"
)

// Store is Sluice's persistence boundary. It is deliberately wide, like
// River's driver Executor: one method per operation, entity first then verb,
// so the methods sort by table.
//
// Reads outside a transaction see committed data, and do not wait for
// transactions in progress (except on SQLite's ":memory:", which has one
// connection). InTx runs fn inside one transaction; everything fn does must
// go through the Tx it is given: on SQLite writes have a single connection,
// so a write on the Store from inside fn deadlocks, and a read there does
// not see what fn has written.
type Store interface {
	Querier

	// InTx runs fn in a transaction and commits it when fn returns nil; it
	// rolls back and returns fn's error otherwise. On SQLite the transaction
	// takes the write lock at BEGIN (BEGIN IMMEDIATE), so transactions are
	// serialised; on Postgres it is READ COMMITTED and callers serialise
	// per execution with ExecutionLock.
	InTx(ctx context.Context, fn func(tx Tx) error) error

	// Dialect reports which database this is.
	Dialect() Dialect

	// Ping checks that the database answers.
	Ping(ctx context.Context) error

	// Close releases the pool.
	Close() error
}

// Tx is a Querier bound to one open transaction.
//
// On Postgres a transaction pipelines: writes whose outcome the caller does
// not read at once (StageUpdate, ExecutionUpdate, EventInsert, AuditInsert,
// the stages of ExecutionInsert) are held and sent with the next statement,
// or with COMMIT, so a run of them and the commit cost one round trip. Such a
// write's error, and the ID EventInsert or AuditInsert assigns, arrive then:
// from the next call that reads, or from the commit. Since any failed
// statement makes InTx fail, the transaction is all or nothing either way;
// callers that branch on a write's error (ErrNotFound from StageUpdate, say)
// must do so on InTx's.
//
// The job queue shares the transaction through the dialect packages
// (sqlite.DriverTx, postgres.DriverTx), so a state change and the job that
// follows it commit together.
type Tx interface {
	Querier
}

// StageForgetter is implemented by the transactions of a store that keeps
// executions' stages in memory between transactions (SQLite's stage cache),
// so that the next lock of a busy execution need not read them.
type StageForgetter interface {
	// ForgetStages keeps the stages of execution id out of that memory
	// once the transaction commits: nothing is expected to lock it again
	// soon (it waits for a person, a window or a long poll, or it ended).
	ForgetStages(id string)
}

// Querier holds every data operation. Both Store (auto-commit) and Tx
// implement it.
type Querier interface {
	// PipelineSave creates the pipeline (application, name) or appends a new
	// revision to it. Revision numbers start at 1 and grow by one per save.
	// The pipeline's ID is kept across revisions; a new pipeline gets
	// params.ID, or a fresh UUID when that is empty.
	PipelineSave(ctx context.Context, params *PipelineSaveParams) (*Pipeline, error)
	// PipelineGet returns the newest revision of a pipeline that is not deleted.
	PipelineGet(ctx context.Context, application, name string) (*Pipeline, error)
	// PipelineGetByID returns the newest revision of the pipeline with this ID.
	PipelineGetByID(ctx context.Context, id string) (*Pipeline, error)
	// PipelineList lists pipelines that are not deleted, ordered by
	// application then name. An empty Application lists all.
	PipelineList(ctx context.Context, params *PipelineListParams) ([]*Pipeline, error)
	// PipelineDelete marks a pipeline deleted; its revisions and executions
	// are kept. Saving it again revives it with the next revision number.
	PipelineDelete(ctx context.Context, application, name string) error
	// PipelineRevisionList lists every revision of a pipeline, newest first.
	PipelineRevisionList(ctx context.Context, pipelineID string) ([]*Pipeline, error)
	// PipelineRevisionGet returns one revision.
	PipelineRevisionGet(ctx context.Context, pipelineID string, revision int) (*Pipeline, error)

	// CanaryConfigSave creates the canary config named params.Name or
	// appends a new revision to it (reviving it if it was deleted).
	// Revision numbers start at 1 and grow by one per save; the document
	// is kept byte for byte.
	CanaryConfigSave(ctx context.Context, params *CanaryConfigSaveParams) (*CanaryConfig, error)
	// CanaryConfigGet returns the newest revision of a canary config that
	// is not deleted.
	CanaryConfigGet(ctx context.Context, name string) (*CanaryConfig, error)
	// CanaryConfigList lists the newest revision of every canary config
	// that is not deleted, ordered by name.
	CanaryConfigList(ctx context.Context) ([]*CanaryConfig, error)
	// CanaryConfigDelete marks a canary config deleted; its revisions are
	// kept. ErrNotFound when there is none in force.
	CanaryConfigDelete(ctx context.Context, name string) error
	// CanaryConfigRevisionList lists every revision of a canary config
	// that is not deleted, newest first.
	CanaryConfigRevisionList(ctx context.Context, name string) ([]*CanaryConfig, error)
	// CanaryConfigRevisionGet returns one revision of a canary config that
	// is not deleted.
	CanaryConfigRevisionGet(ctx context.Context, name string, revision int) (*CanaryConfig, error)

	// ExecutionInsert stores a new execution with all its stages.
	ExecutionInsert(ctx context.Context, exec *Execution) error
	// ExecutionGet returns the execution with its stages ordered by Seq.
	ExecutionGet(ctx context.Context, id string) (*Execution, error)
	// ExecutionLock locks the execution's row until the transaction ends
	// (SELECT … FOR UPDATE on Postgres; a no-op on SQLite, where
	// transactions are already serialised) and returns the execution with
	// its stages. Only meaningful inside InTx.
	ExecutionLock(ctx context.Context, id string) (*Execution, error)
	// ExecutionUpdate writes what an execution's run changes: Status,
	// State, Canceled, StartTime, EndTime and UpdatedAt (not its stages).
	// What it was created as (application, pipeline, trigger, user,
	// CreatedAt) is fixed at ExecutionInsert. ErrNotFound if the row does
	// not exist.
	ExecutionUpdate(ctx context.Context, exec *Execution) error
	// ExecutionList returns summaries (Stages nil) newest first, filtered
	// and paginated by params; with params.AwaitingJudgment each one's
	// Stages are its waiting manual judgments.
	ExecutionList(ctx context.Context, params *ExecutionListParams) (*ExecutionPage, error)
	// ExecutionListByConfig returns executions (Stages nil) of one pipeline
	// config in any of the given statuses, oldest first; the engine uses it
	// for concurrency limits and queueing.
	ExecutionListByConfig(ctx context.Context, pipelineConfigID string, statuses []status.Status) ([]*Execution, error)

	// StageInsert adds a stage to an existing execution (rollback stages,
	// synthetic stages).
	StageInsert(ctx context.Context, stage *Stage) error
	// StageUpdate writes what a stage's run changes: Status, Context,
	// Outputs, Tasks, StartTime, EndTime and UpdatedAt. Its place in the
	// execution (Seq, RefID, Name, Type, RequisiteStageRefIDs) is fixed at
	// insert. ErrNotFound if missing.
	StageUpdate(ctx context.Context, stage *Stage) error

	// EventInsert appends events, all of one execution, to its event log
	// as one batch (on Postgres inside a transaction, by the time it
	// commits; see Tx), and sets their IDs: EventBatch(ID) of each is the
	// batch's ID, and the events have consecutive IDs from it in the
	// order given. They share the first event's CreatedAt. More than
	// EventBatchSpan events are written as several batches.
	//
	// A batch is one row, so writing a step's events costs one insert
	// whatever their number. Its ID is a multiple of EventBatchSpan drawn
	// when the row is inserted, not when it commits, and unique across all
	// executions; IDs therefore grow but skip numbers between batches.
	//
	// IDs grow in commit order per execution, for writers that hold the
	// execution's ExecutionLock (or inserted the execution) in the
	// transaction that writes its events: the lock is taken before the
	// IDs are drawn and held until commit, so of two such transactions the
	// one that commits first drew the lower IDs. The engine writes events
	// only that way. Across executions there is no such order: a batch
	// may become visible after one with a higher ID has (its transaction
	// drew first and committed later), and batch IDs may be skipped for
	// good (a rolled-back insert; Postgres also skips sequence values after
	// a crash). On SQLite, which serialises writers, IDs happen to grow in
	// commit order across all executions, but callers must not rely on it.
	EventInsert(ctx context.Context, evs ...*Event) error
	// EventList returns events with ID > params.AfterID (and, when
	// params.Batches is set, of one of those batches), oldest first, for
	// one execution or (ExecutionID empty) all, at most params.Limit.
	//
	// Paging one execution with AfterID set to the last ID seen misses
	// nothing (see EventInsert). Paging all executions that way can miss a
	// batch that commits after a higher ID was read: a follower of all
	// executions must remember the batches it skipped and ask for them
	// again with Batches, as the engine's reader of the event log does.
	EventList(ctx context.Context, params *EventListParams) ([]*Event, error)
	// EventLastID returns the highest event ID committed so far, 0 when
	// there is none. Events with lower IDs may still be committing (see
	// EventInsert).
	EventLastID(ctx context.Context) (int64, error)

	// AuditInsert appends to the audit log and sets entry.ID.
	AuditInsert(ctx context.Context, entry *AuditEntry) error
	// AuditList returns audit entries newest first.
	AuditList(ctx context.Context, params *AuditListParams) ([]*AuditEntry, error)

	// TriggerSync makes the trigger index of a pipeline hold exactly
	// triggers (none removes them all, as when the pipeline is deleted):
	// it adds the new keys, updates the ones it has and drops the others.
	// A trigger kept under the same key keeps its last firing.
	TriggerSync(ctx context.Context, pipelineID string, triggers []*Trigger) error
	// TriggerList lists indexed triggers matching params, ordered by
	// application, pipeline name and position.
	TriggerList(ctx context.Context, params *TriggerListParams) ([]*Trigger, error)
	// TriggerFired records the last firing of a trigger. ErrNotFound when
	// the index has no such trigger (its pipeline changed meanwhile).
	TriggerFired(ctx context.Context, f *TriggerFiring) error
	// TriggerDeliveryInsert records that a delivery (the ID its sender
	// gave it) fired a trigger; ErrConflict, without failing the
	// transaction, when it already had: a replayed delivery. Called in
	// the transaction that inserts the execution, it makes the delivery
	// start at most one.
	TriggerDeliveryInsert(ctx context.Context, d *TriggerDelivery) error

	// CredentialInsert stores a credential. A token whose name a token in
	// force already has is ErrConflict.
	CredentialInsert(ctx context.Context, c *Credential) error
	// CredentialFind returns the credential of this kind whose secret
	// hashes to secretHash, if it is neither revoked nor expired at now;
	// ErrNotFound otherwise.
	CredentialFind(ctx context.Context, kind CredentialKind, secretHash string, now time.Time) (*Credential, error)
	// CredentialTake is CredentialFind for a one-time credential: it
	// revokes the credential it returns, so that of two callers with the
	// same secret only one gets it.
	CredentialTake(ctx context.Context, kind CredentialKind, secretHash string, now time.Time) (*Credential, error)
	// CredentialList returns the credentials of a kind that are in force at
	// now (not revoked, not expired), oldest first.
	CredentialList(ctx context.Context, kind CredentialKind, now time.Time) ([]*Credential, error)
	// CredentialRevoke revokes the credential of this kind with this ID at
	// now, and the credentials opened with it (ParentID). ErrNotFound if
	// there is none in force.
	CredentialRevoke(ctx context.Context, kind CredentialKind, id string, now time.Time) (*Credential, error)
	// CredentialPurge deletes credentials that expired or were revoked
	// before cutoff and returns how many.
	CredentialPurge(ctx context.Context, cutoff time.Time) (int64, error)
}

// Pipeline is one revision of a saved pipeline document.
type Pipeline struct {
	ID          string
	Application string
	Name        string
	Revision    int
	// Document is the pipeline JSON exactly as saved (normalized by the
	// pipeline package before saving).
	Document  json.RawMessage
	CreatedBy string
	CreatedAt time.Time // when this revision was saved
	Deleted   bool
}

// PipelineSaveParams are the arguments of PipelineSave.
type PipelineSaveParams struct {
	ID          string // used only when the pipeline is new
	Application string
	Name        string
	Document    json.RawMessage
	User        string
}

// PipelineListParams filter PipelineList.
type PipelineListParams struct {
	Application string
}

// Trigger is one entry of a pipeline's triggers, indexed so that a
// delivery finds the triggers it addresses without reading every
// pipeline, with its last firing.
type Trigger struct {
	PipelineID   string
	Key          string // the trigger's id, or "#<position>"
	Position     int    // index in the document's triggers
	Type         string
	Source       string // what deliveries address it by; "" for cron
	Enabled      bool
	Application  string
	PipelineName string
	// The last firing; LastFiredAt nil when it has never fired.
	LastFiredAt     *time.Time
	LastExecutionID string
	// LastOutcome says what the last firing did: "started", or why it
	// started nothing ("missed", "replayed", a parameter error, …).
	LastOutcome string
}

// TriggerListParams filter TriggerList; zero values do not filter.
type TriggerListParams struct {
	PipelineID  string
	Type        string
	Source      string
	EnabledOnly bool
}

// TriggerFiring is the argument of TriggerFired.
type TriggerFiring struct {
	PipelineID  string
	Key         string
	At          time.Time
	ExecutionID string
	Outcome     string
}

// TriggerDelivery is the argument of TriggerDeliveryInsert.
type TriggerDelivery struct {
	PipelineID  string
	Key         string
	DeliveryID  string
	ExecutionID string
	CreatedAt   time.Time
}

// CanaryConfig is one revision of a saved canary config.
type CanaryConfig struct {
	ID       string
	Name     string
	Revision int
	// Applications are the applications the document names, which decide
	// who may read and change it; never nil.
	Applications []string
	// Document is the canary config JSON exactly as saved, byte for byte,
	// so that an exported Kayenta config comes back as it went in.
	Document  json.RawMessage
	CreatedBy string
	CreatedAt time.Time // when this revision was saved
	Deleted   bool
}

// CanaryConfigSaveParams are the arguments of CanaryConfigSave.
type CanaryConfigSaveParams struct {
	Name         string
	Applications []string
	Document     json.RawMessage
	User         string
}

// Execution is one run of a pipeline.
type Execution struct {
	ID               string
	Application      string
	PipelineName     string
	PipelineConfigID string // the pipeline's ID; key of concurrency limits
	PipelineRevision int
	Status           status.Status
	// Pipeline is the document the execution runs, frozen at trigger time.
	Pipeline json.RawMessage
	// Trigger is the runtime trigger: {"type","user","parameters",…}.
	Trigger json.RawMessage
	// State holds engine bookkeeping that is not worth a column of its own
	// (pause records, cancel reason, queue info), as a JSON object.
	State     json.RawMessage
	User      string
	Canceled  bool
	CreatedAt time.Time
	StartTime *time.Time
	EndTime   *time.Time
	UpdatedAt time.Time
	Stages    []*Stage // ordered by Seq; nil in list results
}

// Stage is one stage of an execution.
type Stage struct {
	ID          string
	ExecutionID string
	// Seq orders stages within an execution: document order, then stages
	// added later.
	Seq                  int
	RefID                string
	Name                 string
	Type                 string
	RequisiteStageRefIDs []string
	Status               status.Status
	// Context is the stage's configuration plus what its tasks wrote.
	Context json.RawMessage
	// Outputs are visible to downstream stages.
	Outputs json.RawMessage
	// Tasks is the engine's list of the stage's tasks and their statuses.
	Tasks     json.RawMessage
	StartTime *time.Time
	EndTime   *time.Time
	UpdatedAt time.Time
}

// ExecutionListParams filter and paginate ExecutionList. Zero values mean
// "no filter"; Limit 0 means 50.
type ExecutionListParams struct {
	Application  string
	PipelineName string
	Statuses     []status.Status
	// AwaitingJudgment keeps only executions with a manualJudgment stage
	// RUNNING, and fills each one's Stages with those stages (in order),
	// so that a header can say what waits for a person in two statements.
	AwaitingJudgment bool
	// Search keeps executions that match every word of it. A word
	// key=value matches an execution whose trigger has the parameter key
	// with the value value; any other word matches, ignoring case, an
	// execution whose trigger's JSON (its type, user and parameters)
	// contains it, or whose id begins with it.
	Search string
	// Cursor is the NextCursor of the previous page; empty for the first.
	Cursor string
	Limit  int
}

// ExecutionPage is one page of ExecutionList.
type ExecutionPage struct {
	Executions []*Execution
	NextCursor string // empty on the last page
}

// Event is one entry in an execution's event log.
type Event struct {
	ID          int64
	ExecutionID string
	StageID     string // empty for execution-level events
	Type        string // e.g. "execution.status", "stage.status", "task.status"
	Data        json.RawMessage
	CreatedAt   time.Time
}

// EventListParams filter EventList; Limit 0 means 1000. Filters combine:
// an event is listed when it matches every one that is set.
type EventListParams struct {
	ExecutionID string
	AfterID     int64
	// Batches, when not empty, lists only events of the batches with these
	// IDs (see EventBatch), in any order; IDs with no batch are ignored.
	Batches []int64
	Limit   int
}

// EventBatchSpan is how many event IDs a batch of events reserves
// (EventInsert): batch IDs are its multiples.
//
// Event logs written before batches (schema version 7 and older) hold
// one event per batch, with any ID.
const EventBatchSpan = 64

// EventBatch returns the ID of the batch that holds event id, for a batch
// written since batches were introduced.
func EventBatch(id int64) int64 { return id - id%EventBatchSpan }

// AuditEntry records who did what, when and from where.
type AuditEntry struct {
	ID   int64
	User string
	// Source is where the action came from: the client's address and how
	// it authenticated ("127.0.0.1 token"), or "engine" for what the
	// engine does on its own.
	Source      string
	Action      string // e.g. "trigger", "judge", "cancel", "restart", "pipeline.save"
	Application string
	Pipeline    string
	ExecutionID string
	StageID     string
	Details     json.RawMessage
	CreatedAt   time.Time
}

// AuditListParams filter AuditList; Limit 0 means 100. Filters combine.
type AuditListParams struct {
	ExecutionID string
	Application string
	User        string
	Action      string
	// Since lists entries created at or after it; zero means no bound.
	Since time.Time
	// BeforeID lists entries with lower IDs (the next page); 0 means none.
	BeforeID int64
	Limit    int
}

// CredentialKind says what a credential is for.
type CredentialKind string

const (
	// CredentialToken is an API token: named, long-lived, sent as a
	// bearer token.
	CredentialToken CredentialKind = "token"
	// CredentialSession is a console session, sent as a cookie.
	CredentialSession CredentialKind = "session"
	// CredentialLoginLink is a one-time code that opens a session.
	CredentialLoginLink CredentialKind = "login"
)

// Credential is a secret that stands for an identity. The store keeps only
// a hash of the secret.
type Credential struct {
	ID   string
	Kind CredentialKind
	// Name names a token; it is empty for the other kinds.
	Name string
	// SecretHash is the hex SHA-256 of the secret.
	SecretHash string
	// Subject is the identity the credential acts for, as records show it.
	Subject string
	// ParentID is the credential a session was opened with (a token's
	// ID), which revoking revokes the session too; empty otherwise.
	ParentID string
	// Roles are the subject's roles (groups) while it uses the credential.
	Roles     []string
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt *time.Time // nil: never
	RevokedAt *time.Time
}
