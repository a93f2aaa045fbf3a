package control

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/atomicfile"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
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

// catalog is everything the control plane knows. It is held in memory and
// written whole to the snapshot file after every change (see state.write).
type catalog struct {
	Format    int                            `json:"format"`
	Functions map[string]*lambdaFunction     `json:"functions"`
	Mappings  map[string]*eventSourceMapping `json:"eventSourceMappings"`
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
	Created             time.Time                     `json:"created"`
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
	// CodeDir is the unpacked package, relative to the data directory. Every
	// published version has its own; it is never written after Unpacked.
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

// controlState is the control plane's catalog with its lock and its snapshot file.
// Handlers change it only through write, which persists the change before
// the handler answers; readers use read. It implements Resolver.
type controlState struct {
	arns
	dataDir string
	clock   func() time.Time

	mu  sync.RWMutex
	m   *catalog
	seq uint64 // bumped by every write

	persistMu sync.Mutex
	written   uint64 // seq of the snapshot on disk
}

const snapshotFile = "state.json"

// loadState reads the snapshot under dataDir, or starts empty.
func loadState(dataDir string, a arns, clock func() time.Time) (*controlState, error) {
	st := &controlState{arns: a, dataDir: dataDir, clock: clock, m: &catalog{Format: modelFormat}}
	b, err := os.ReadFile(filepath.Join(dataDir, snapshotFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read local Lambda state: %w", err)
	default:
		if err := json.Unmarshal(b, st.m); err != nil {
			return nil, fmt.Errorf("decode local Lambda state %s: %w", filepath.Join(dataDir, snapshotFile), err)
		}
		if st.m.Format != modelFormat {
			return nil, fmt.Errorf("local Lambda state %s has format %d, this build reads format %d", filepath.Join(dataDir, snapshotFile), st.m.Format, modelFormat)
		}
	}
	if st.m.Functions == nil {
		st.m.Functions = map[string]*lambdaFunction{}
	}
	if st.m.Mappings == nil {
		st.m.Mappings = map[string]*eventSourceMapping{}
	}
	for _, fn := range st.m.Functions {
		if fn.Versions == nil {
			fn.Versions = map[string]*functionVersion{}
		}
		if fn.Aliases == nil {
			fn.Aliases = map[string]*functionAlias{}
		}
	}
	return st, nil
}

// read runs fn with the catalog locked for reading.
func (st *controlState) read(fn func(m *catalog) error) error {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return fn(st.m)
}

// write runs fn with the catalog locked for writing and, if fn succeeds,
// writes the snapshot before returning. fn must check everything before it
// changes anything: an error means "nothing changed".
func (st *controlState) write(fn func(m *catalog) error) error {
	st.mu.Lock()
	if err := fn(st.m); err != nil {
		st.mu.Unlock()
		return err
	}
	st.seq++
	seq := st.seq
	b, err := json.Marshal(st.m)
	st.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode local Lambda state: %w", err)
	}
	return st.persist(b, seq)
}

// persist writes snapshot number seq unless a newer one is already on disk
// (a newer snapshot contains this one's changes). The file is replaced
// atomically: temp file, fsync, rename, fsync of the directory.
func (st *controlState) persist(b []byte, seq uint64) error {
	st.persistMu.Lock()
	defer st.persistMu.Unlock()
	if seq <= st.written {
		return nil
	}
	if err := atomicfile.Write(filepath.Join(st.dataDir, snapshotFile), b); err != nil {
		return fmt.Errorf("write local Lambda state: %w", err)
	}
	st.written = seq
	return nil
}

// lookup finds a function by a parsed name, or answers AWS's not-found.
func (st *controlState) lookup(m *catalog, ref functionRef, qualifier string) (*lambdaFunction, error) {
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
