package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/sluice-cd/sluice/internal/locallambda/invoke"
	"github.com/sluice-cd/sluice/internal/locallambda/restapi"
)

// Config configures a Plane. Unlike the local Lambda's own Config, it has
// no defaults: the local Lambda's Server fills every field.
type Config struct {
	// DataDir is the local Lambda's data directory, absolute: the
	// control plane's database (control.db) and function packages
	// (functions/NAME/…) live in it.
	DataDir string
	// Region and AccountID are in every ARN.
	Region, AccountID string
	// Logger receives the control plane's events.
	Logger *slog.Logger
	// Clock stamps LastModified and the like.
	Clock func() time.Time
	// ConcurrentExecutions is the account's concurrency limit, reported by
	// GetAccountSettings; reservations must leave minUnreserved of it.
	ConcurrentExecutions int
	// Objects is the S3 store that function code named by S3Bucket/S3Key
	// is read from.
	Objects ObjectReader
	// RequestMemory bounds the memory the operations' request bodies take
	// at once: each takes its length, at most 1 MiB (a ZipFile goes to
	// disk as it arrives); requests beyond it wait.
	RequestMemory int64
	// BeforeActivation, if set, runs at the start of every asynchronous
	// activation (function name, qualifier) and event source mapping
	// transition ("event-source-mapping", UUID). Tests use it to hold a
	// function in Pending / InProgress, or a mapping in Creating, for as
	// long as they need.
	BeforeActivation func(function, qualifier string)
	// MappingsChanged, if set, is called whenever an event source
	// mapping settles in a new state (Enabled, Disabled, gone): the
	// local Lambda's event delivery reads EventSourceMappings again.
	MappingsChanged func()
}

// ObjectReader opens an object of the S3 store; *s3.Store implements it.
// A missing bucket or key is an error wrapping s3.ErrNoSuchBucket or
// s3.ErrNoSuchKey, an object larger than limit an error.
type ObjectReader interface {
	OpenObject(bucket, key string, limit int64) (io.ReadCloser, int64, error)
}

// DataPlane is what the control plane needs of the data plane
// (*invoke.Invoker): it serves Invoke, and it stops the environments of a
// version that was deleted or whose code or configuration changed.
type DataPlane interface {
	ServeInvoke(w http.ResponseWriter, r *http.Request, functionName, qualifier string)
	Retire(functionName, version string)
}

// Plane is the control plane: the model of functions, versions, aliases,
// event source mappings and the rest, its snapshot, the packages on disk,
// the asynchronous activations, and the Lambda REST API operations over
// them (Routes). It resolves Invoke for the data plane (ResolveInvoke).
type Plane struct {
	cfg     Config
	log     *slog.Logger
	arns    arns
	st      *controlState
	objects ObjectReader
	dp      DataPlane
	pins    pins
	bodies  *semaphore.Weighted // Config.RequestMemory
	aliases aliasHistory        // every alias change since Open

	ctx    context.Context // the lifetime of background work
	cancel context.CancelFunc
	work   sync.WaitGroup
}

var _ invoke.Resolver = (*Plane)(nil)

// Open opens the database in cfg.DataDir (creating it, or migrating an
// earlier build's state.json into it) and starts reading the model in the
// background; every operation waits until it is read. Start resumes the
// work the model records.
func Open(cfg Config) (*Plane, error) {
	if cfg.DataDir == "" || cfg.Objects == nil || cfg.Clock == nil || cfg.Logger == nil || cfg.RequestMemory <= 0 {
		return nil, errors.New("control plane: Config.DataDir, Objects, Clock, Logger and RequestMemory are required")
	}
	// What an interrupted upload left in the temporary directory goes.
	tmp := filepath.Join(cfg.DataDir, tmpRel)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("empty the local Lambda's upload directory: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create the local Lambda's upload directory: %w", err)
	}
	a := arns{region: cfg.Region, account: cfg.AccountID}
	st, err := loadState(cfg.DataDir, a, cfg.Clock)
	if err != nil {
		return nil, err
	}
	cp := &Plane{cfg: cfg, log: cfg.Logger, arns: a, st: st, objects: cfg.Objects, bodies: semaphore.NewWeighted(cfg.RequestMemory)}
	cp.ctx, cp.cancel = context.WithCancel(context.Background())
	return cp, nil
}

// Start connects the data plane and, in the background once the model is
// read, resumes the activations and event source mapping transitions a
// previous run left unfinished and removes the package files no record
// references. Call it once, before serving Routes.
func (cp *Plane) Start(dp DataPlane) {
	cp.dp = dp
	cp.goBackground(func(ctx context.Context) {
		cp.resume()
		if err := cp.collectGarbage(); err != nil {
			cp.log.Warn("local lambda: clean up unreferenced function files", "err", err)
		}
	})
	// A model that cannot be read is said once, here; every operation
	// answers it too.
	cp.goBackground(func(ctx context.Context) {
		if err := cp.st.read(func(*catalog) error { return nil }); err != nil {
			cp.log.Error("local lambda: read the control plane's model", "err", err)
		}
	})
}

// Close stops the background work (a restart resumes it) and waits for it.
func (cp *Plane) Close() {
	cp.cancel()
	cp.work.Wait()
	if err := cp.st.close(); err != nil {
		cp.log.Warn("local lambda: close the control plane's database", "err", err)
	}
}

// goBackground runs fn in a goroutine the Plane owns; Close waits for it.
func (cp *Plane) goBackground(fn func(ctx context.Context)) {
	cp.work.Add(1)
	go func() {
		defer cp.work.Done()
		fn(cp.ctx)
	}()
}

// ResolveInvoke resolves what an Invoke runs, for the data plane; see
// controlState.ResolveInvoke.
func (cp *Plane) ResolveInvoke(ctx context.Context, name, qualifier string) (*invoke.Target, error) {
	return cp.st.ResolveInvoke(ctx, name, qualifier)
}

// Routes are the operations of the Lambda REST API, Invoke included (it
// goes to the data plane).
func (cp *Plane) Routes() []restapi.Route {
	r := func(method, path, op string, h restapi.Handler) restapi.Route {
		return restapi.Route{Method: method, Path: path, Op: op, Handle: cp.admit(h)}
	}
	invoke := restapi.Route{Method: "POST", Path: "/2015-03-31/functions/{function}/invocations", Op: "Invoke", Raw: true,
		Handle: func(w http.ResponseWriter, r *http.Request) error {
			cp.dp.ServeInvoke(w, r, r.PathValue("function"), r.URL.Query().Get("Qualifier"))
			return nil
		}}
	return []restapi.Route{
		r("POST", "/2015-03-31/functions", "CreateFunction", cp.createFunction),
		r("GET", "/2015-03-31/functions", "ListFunctions", cp.listFunctions),
		r("GET", "/2015-03-31/functions/{function}", "GetFunction", cp.getFunction),
		r("DELETE", "/2015-03-31/functions/{function}", "DeleteFunction", cp.deleteFunction),
		r("GET", "/2015-03-31/functions/{function}/configuration", "GetFunctionConfiguration", cp.getFunctionConfiguration),
		r("PUT", "/2015-03-31/functions/{function}/configuration", "UpdateFunctionConfiguration", cp.updateFunctionConfiguration),
		r("PUT", "/2015-03-31/functions/{function}/code", "UpdateFunctionCode", cp.updateFunctionCode),
		r("POST", "/2015-03-31/functions/{function}/versions", "PublishVersion", cp.publishVersion),
		r("GET", "/2015-03-31/functions/{function}/versions", "ListVersionsByFunction", cp.listVersionsByFunction),
		r("POST", "/2015-03-31/functions/{function}/aliases", "CreateAlias", cp.createAlias),
		r("GET", "/2015-03-31/functions/{function}/aliases", "ListAliases", cp.listAliases),
		r("GET", "/2015-03-31/functions/{function}/aliases/{alias}", "GetAlias", cp.getAlias),
		r("PUT", "/2015-03-31/functions/{function}/aliases/{alias}", "UpdateAlias", cp.updateAlias),
		r("DELETE", "/2015-03-31/functions/{function}/aliases/{alias}", "DeleteAlias", cp.deleteAlias),
		r("POST", "/2015-03-31/functions/{function}/policy", "AddPermission", cp.addPermission),
		r("GET", "/2015-03-31/functions/{function}/policy", "GetPolicy", cp.getPolicy),
		r("DELETE", "/2015-03-31/functions/{function}/policy/{statement}", "RemovePermission", cp.removePermission),
		invoke,
		r("PUT", "/2017-10-31/functions/{function}/concurrency", "PutFunctionConcurrency", cp.putFunctionConcurrency),
		r("DELETE", "/2017-10-31/functions/{function}/concurrency", "DeleteFunctionConcurrency", cp.deleteFunctionConcurrency),
		r("GET", "/2019-09-30/functions/{function}/concurrency", "GetFunctionConcurrency", cp.getFunctionConcurrency),
		r("POST", "/2017-03-31/tags/{resource}", "TagResource", cp.tagResource),
		r("DELETE", "/2017-03-31/tags/{resource}", "UntagResource", cp.untagResource),
		r("GET", "/2017-03-31/tags/{resource}", "ListTags", cp.listTags),
		r("POST", "/2015-03-31/event-source-mappings", "CreateEventSourceMapping", cp.createEventSourceMapping),
		r("GET", "/2015-03-31/event-source-mappings", "ListEventSourceMappings", cp.listEventSourceMappings),
		r("GET", "/2015-03-31/event-source-mappings/{uuid}", "GetEventSourceMapping", cp.getEventSourceMapping),
		r("PUT", "/2015-03-31/event-source-mappings/{uuid}", "UpdateEventSourceMapping", cp.updateEventSourceMapping),
		r("DELETE", "/2015-03-31/event-source-mappings/{uuid}", "DeleteEventSourceMapping", cp.deleteEventSourceMapping),
		r("PUT", "/2019-09-25/functions/{function}/event-invoke-config", "PutFunctionEventInvokeConfig", cp.putFunctionEventInvokeConfig),
		r("POST", "/2019-09-25/functions/{function}/event-invoke-config", "UpdateFunctionEventInvokeConfig", cp.updateFunctionEventInvokeConfig),
		r("GET", "/2019-09-25/functions/{function}/event-invoke-config", "GetFunctionEventInvokeConfig", cp.getFunctionEventInvokeConfig),
		r("DELETE", "/2019-09-25/functions/{function}/event-invoke-config", "DeleteFunctionEventInvokeConfig", cp.deleteFunctionEventInvokeConfig),
		r("GET", "/2019-09-25/functions/{function}/event-invoke-config/list", "ListFunctionEventInvokeConfigs", cp.listFunctionEventInvokeConfigs),
		r("GET", "/2016-08-19/account-settings", "GetAccountSettings", cp.getAccountSettings),
	}
}

// codePathPrefix is where GetFunction's Code.Location points: the local
// Lambda's own resources live under /_locallambda/ (S3 bucket names cannot
// start with "_", so it never hides a bucket).
const codePathPrefix = "/_locallambda/functions/"

// CodeRoute serves the package behind GetFunction's Code.Location,
// GET /_locallambda/functions/NAME/code/HEX.zip; anything else there is
// not found.
func (cp *Plane) CodeRoute() restapi.Route {
	return restapi.Route{Method: "GET", Path: codePathPrefix + "{function}/code/{file}", Op: "GetFunctionCode", Raw: true,
		Handle: func(w http.ResponseWriter, r *http.Request) error {
			// The file's name is compared as sent (percent-escapes
			// included): only a plain HEX.zip names a package.
			segs := strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/")
			hexName, ok := strings.CutSuffix(segs[len(segs)-1], ".zip")
			if !ok {
				http.NotFound(w, r)
				return nil
			}
			path, ok := cp.codeZipPath(r.PathValue("function"), hexName)
			if !ok {
				http.NotFound(w, r)
				return nil
			}
			w.Header().Set("Content-Type", "application/zip")
			http.ServeFile(w, r, path)
			return nil
		}}
}
