package control

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"
)

// functionState is a function version's State as the API reports it.
type functionState string

const (
	functionPending functionState = "Pending"
	functionActive  functionState = "Active"
	functionFailed  functionState = "Failed"
)

// updateStatus is a function version's LastUpdateStatus.
type updateStatus string

const (
	updateInProgress updateStatus = "InProgress"
	updateSuccessful updateStatus = "Successful"
	updateFailed     updateStatus = "Failed"
)

// esmState is an event source mapping's State.
type esmState string

const (
	esmCreating esmState = "Creating"
	esmEnabled  esmState = "Enabled"
	esmDisabled esmState = "Disabled"
	esmUpdating esmState = "Updating"
	esmDeleting esmState = "Deleting"
)

// latestQualif is the qualifier of the unpublished version.
const latestQualif = "$LATEST"

// catalog is everything the control plane knows. It is held in memory, and
// every change is written to the database before the API answers (see
// controlState.write). Its JSON form is the snapshot earlier builds kept in
// state.json, which Open migrates.
type catalog struct {
	Format    int                            `json:"format"`
	Functions map[string]*lambdaFunction     `json:"functions"`
	Mappings  map[string]*eventSourceMapping `json:"eventSourceMappings"`

	// tx collects, during a write, the records the write may change.
	tx *touched
}

// touchFunction notes, during a write, that the function of that name may
// change (or appear, or go); it is a no-op during a read. Every write
// reaches a function through lookup, pendingRecord or insertFunction, which
// call it.
func (m *catalog) touchFunction(name string) {
	if m.tx != nil {
		m.tx.functions[name] = true
	}
}

// touchMapping is touchFunction for an event source mapping.
func (m *catalog) touchMapping(id string) {
	if m.tx != nil {
		m.tx.mappings[id] = true
	}
}

const modelFormat = 1

// function is one function with everything that hangs off it.
type lambdaFunction struct {
	Name string `json:"name"`
	// ID distinguishes this function from an earlier one of the same name;
	// its files live under functions/NAME/ID.
	ID string `json:"id"`
	// Latest is $LATEST as the API shows it, including an update that is
	// still in progress.
	Latest *functionVersion `json:"latest"`
	// Running is $LATEST as invocations run it: the last configuration that
	// activated successfully. nil until the function first becomes Active.
	// While an update is in progress invocations keep going to Running, as
	// on AWS.
	Running *functionVersion `json:"running,omitempty"`
	// Versions are the published versions by number.
	Versions map[string]*functionVersion `json:"versions"`
	// LastVersion is the highest version number ever published; numbers are
	// never reused, even after deletes.
	LastVersion         int                           `json:"lastVersion"`
	Aliases             map[string]*functionAlias     `json:"aliases"`
	Tags                map[string]string             `json:"tags,omitempty"`
	ReservedConcurrency *int                          `json:"reservedConcurrency,omitempty"`
	EventInvokeConfigs  map[string]*eventInvokeConfig `json:"eventInvokeConfigs,omitempty"`
	// Policies are the resource policies' statements by qualifier: ""
	// for the function, else a version or an alias (permissions.go).
	Policies map[string][]policyStatement `json:"policies,omitempty"`
	Created  time.Time                    `json:"created"`
}

// functionConfig is what a user configures on a function (and what a
// published version freezes).
type functionConfig struct {
	Runtime             string            `json:"runtime"`
	Handler             string            `json:"handler"`
	Role                string            `json:"role"`
	Description         string            `json:"description"`
	Timeout             int               `json:"timeout"`
	MemorySize          int               `json:"memorySize"`
	Environment         map[string]string `json:"environment,omitempty"`
	DeadLetterTargetArn string            `json:"deadLetterTargetArn,omitempty"`
	TracingMode         string            `json:"tracingMode"`
	Architectures       []string          `json:"architectures"`
	EphemeralStorage    int               `json:"ephemeralStorage"`
	KMSKeyArn           string            `json:"kmsKeyArn,omitempty"`
	LoggingConfig       loggingConfig     `json:"loggingConfig"`
}

type loggingConfig struct {
	LogFormat           string `json:"LogFormat,omitempty"`
	ApplicationLogLevel string `json:"ApplicationLogLevel,omitempty"`
	SystemLogLevel      string `json:"SystemLogLevel,omitempty"`
	LogGroup            string `json:"LogGroup,omitempty"`
}

// version is $LATEST or a published version: configuration, code and state.
type functionVersion struct {
	Version    string         `json:"version"` // "$LATEST" or "N"
	Config     functionConfig `json:"config"`
	CodeSha256 string         `json:"codeSha256"`
	CodeSize   int64          `json:"codeSize"`
	// CodeZip is the package, relative to the data directory; zips are kept
	// once per content (functions/NAME/ID/zips/HEX.zip) and shared.
	CodeZip string `json:"codeZip"`
	// CodeDir is the unpacked package, relative to the data directory:
	// functions/NAME/ID/code/HEX, shared by the versions with the same code
	// (a record of an earlier build may name a directory of its own). It is
	// never written after it is unpacked.
	CodeDir  string `json:"codeDir"`
	Unpacked bool   `json:"unpacked"`
	// Fingerprint identifies code and configuration: for $LATEST its current
	// value, for a published version the value $LATEST had when it was
	// published. PublishVersion publishes only when they differ.
	Fingerprint string `json:"fingerprint"`

	State                      functionState `json:"state"`
	StateReason                string        `json:"stateReason,omitempty"`
	StateReasonCode            string        `json:"stateReasonCode,omitempty"`
	LastUpdateStatus           updateStatus  `json:"lastUpdateStatus"`
	LastUpdateStatusReason     string        `json:"lastUpdateStatusReason,omitempty"`
	LastUpdateStatusReasonCode string        `json:"lastUpdateStatusReasonCode,omitempty"`
	LastModified               time.Time     `json:"lastModified"`
	RevisionID                 string        `json:"revisionId"`
	// Work is the id of the asynchronous activation this version waits for;
	// empty when it is settled. A restart resumes it.
	Work string `json:"work,omitempty"`
}

func (v *functionVersion) clone() *functionVersion {
	c := *v
	c.Config.Environment = maps.Clone(v.Config.Environment)
	c.Config.Architectures = slices.Clone(v.Config.Architectures)
	return &c
}

// fingerprint hashes what makes two versions the same for PublishVersion:
// the code and every configuration field.
func (v *functionVersion) fingerprint() string {
	b, _ := json.Marshal(struct {
		C functionConfig
		S string
	}{v.Config, v.CodeSha256})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

type functionAlias struct {
	Name            string             `json:"name"`
	FunctionVersion string             `json:"functionVersion"`
	Description     string             `json:"description"`
	Weights         map[string]float64 `json:"additionalVersionWeights,omitempty"`
	RevisionID      string             `json:"revisionId"`
}

// references reports whether the alias routes any traffic to version v.
func (a *functionAlias) references(v string) bool {
	_, ok := a.Weights[v]
	return a.FunctionVersion == v || ok
}

type eventInvokeConfig struct {
	Qualifier                string    `json:"qualifier"`
	MaximumRetryAttempts     *int      `json:"maximumRetryAttempts,omitempty"`
	MaximumEventAgeInSeconds *int      `json:"maximumEventAgeInSeconds,omitempty"`
	OnSuccess                string    `json:"onSuccess,omitempty"`
	OnFailure                string    `json:"onFailure,omitempty"`
	LastModified             time.Time `json:"lastModified"`
}

// controlState is the control plane's catalog with its lock and its
// database. Handlers change it only through write, which commits the change
// before the handler answers; readers use read. It implements Resolver.
type controlState struct {
	arns
	dataDir string
	clock   func() time.Time

	mu      sync.RWMutex
	m       *catalog
	db      *stateDB
	loadErr error // the model could not be read from db; m is empty

	// verify, set by tests, makes every write check that it wrote every
	// record it changed: that no record it did not touch differs from its
	// rows. It costs a pass over the whole model; problems go to verifyErrs.
	verify     bool
	verifyErrs []string
}

// loadState opens the database under dataDir, migrates an earlier
// state.json into it, and starts reading the model in the background:
// until it is read, the catalog's lock is held, so every read and write
// waits for it (the port opens without waiting for a large model). A model
// that cannot be read is an error of every read and write (loadErr).
func loadState(dataDir string, a arns, clock func() time.Time) (*controlState, error) {
	db, err := openDB(dataDir)
	if err != nil {
		return nil, err
	}
	if err := db.migrateSnapshot(dataDir); err != nil {
		db.close()
		return nil, err
	}
	st := &controlState{arns: a, dataDir: dataDir, clock: clock, db: db}
	st.mu.Lock()
	go func() {
		defer st.mu.Unlock()
		st.m, st.loadErr = db.load()
		if st.loadErr != nil {
			st.m = &catalog{Format: modelFormat, Functions: map[string]*lambdaFunction{}, Mappings: map[string]*eventSourceMapping{}}
		}
	}()
	return st, nil
}

// loaded reports the model's load error, for readers that hold the lock.
func (st *controlState) loaded() error {
	if st.loadErr != nil {
		return fmt.Errorf("the local Lambda could not read its database (move %s aside to start empty): %w", st.db.path, st.loadErr)
	}
	return nil
}

// close closes the database; call it once nothing writes any more.
func (st *controlState) close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.db.close()
}

// read runs fn with the catalog locked for reading.
func (st *controlState) read(fn func(m *catalog) error) error {
	st.mu.RLock()
	defer st.mu.RUnlock()
	if err := st.loaded(); err != nil {
		return err
	}
	return fn(st.m)
}

// write runs fn with the catalog locked for writing and, if fn succeeds,
// commits what it changed to the database — the rows of the records it
// touched that differ from what was written last — before returning; the
// lock is held until then, so no reader sees a change that is not on disk.
// fn must check everything before it changes anything: an error means
// "nothing changed". If the commit fails, the touched records are put back
// as the database has them and the error returned.
func (st *controlState) write(fn func(m *catalog) error) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := st.loaded(); err != nil {
		return err
	}
	t := &touched{functions: map[string]bool{}, mappings: map[string]bool{}}
	st.m.tx = t
	err := fn(st.m)
	st.m.tx = nil
	if err != nil {
		return err
	}
	if err := st.db.commit(st.m, t); err != nil {
		if rerr := st.db.restore(st.m, t); rerr != nil {
			err = errors.Join(err, fmt.Errorf("restore the model from the database: %w", rerr))
		}
		return fmt.Errorf("write the local Lambda's database: %w", err)
	}
	if st.verify {
		st.verifyErrs = append(st.verifyErrs, st.db.untracked(st.m)...)
	}
	return nil
}

// lookup finds a function by a parsed name, or answers AWS's not-found.
func (st *controlState) lookup(m *catalog, ref functionRef, qualifier string) (*lambdaFunction, error) {
	m.touchFunction(ref.Name)
	fn := m.Functions[ref.Name]
	if fn == nil {
		return nil, awserr.ResourceNotFound("Function not found: %s", st.qualified(ref.Name, qualifier))
	}
	return fn, nil
}

// resolveQualifier finds what a qualifier names: $LATEST (also for ""), a
// published version, or an alias (returned too, so callers can use its
// routing). It answers AWS's not-found for anything else.
func (st *controlState) resolveQualifier(fn *lambdaFunction, qualifier string) (*functionVersion, *functionAlias, error) {
	switch {
	case qualifier == "" || qualifier == latestQualif:
		return fn.Latest, nil, nil
	case isVersionQualifier(qualifier):
		if v := fn.Versions[qualifier]; v != nil {
			return v, nil, nil
		}
	default:
		if a := fn.Aliases[qualifier]; a != nil {
			v := fn.version(a.FunctionVersion)
			if v == nil {
				return nil, nil, awserr.ResourceNotFound("Function not found: %s", st.qualified(fn.Name, a.FunctionVersion))
			}
			return v, a, nil
		}
	}
	return nil, nil, awserr.ResourceNotFound("Function not found: %s", st.qualified(fn.Name, qualifier))
}

// version returns $LATEST or a published version by its name.
func (fn *lambdaFunction) version(q string) *functionVersion {
	if q == latestQualif {
		return fn.Latest
	}
	return fn.Versions[q]
}

// sortedVersions returns the published versions in ascending number order.
func (fn *lambdaFunction) sortedVersions() []*functionVersion {
	vs := slices.Collect(maps.Values(fn.Versions))
	sort.Slice(vs, func(i, j int) bool { return versionNum(vs[i].Version) < versionNum(vs[j].Version) })
	return vs
}

// newestVersion is the published version with the highest number, or nil.
func (fn *lambdaFunction) newestVersion() *functionVersion {
	vs := fn.sortedVersions()
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

// aliasesReferencing names, sorted, the aliases that route to version v.
func (fn *lambdaFunction) aliasesReferencing(v string) []string {
	var names []string
	for _, a := range fn.Aliases {
		if a.references(v) {
			names = append(names, a.Name)
		}
	}
	sort.Strings(names)
	return names
}

func versionNum(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1 // $LATEST sorts first
	}
	return n
}

// pendingWork is one activation a version waits for.
type pendingWork struct {
	function, functionID, qualifier, work string
}

// pending lists the activations recorded in the catalog, for a restart to
// resume.
func (m *catalog) pending() []pendingWork {
	var out []pendingWork
	for _, fn := range m.Functions {
		if fn.Latest.Work != "" {
			out = append(out, pendingWork{fn.Name, fn.ID, latestQualif, fn.Latest.Work})
		}
		for _, v := range fn.Versions {
			if v.Work != "" {
				out = append(out, pendingWork{fn.Name, fn.ID, v.Version, v.Work})
			}
		}
	}
	return out
}

// lastModifiedString is FunctionConfiguration.LastModified's format:
// ISO 8601 with milliseconds and a numeric zone, e.g.
// 2019-08-14T22:26:11.234+0000.
func lastModifiedString(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000-0700")
}

// awsTimestamp is a Smithy timestamp as rest-json sends it.
func awsTimestamp(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}
