package cli

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"syscall"

	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/expr"
	"github.com/sluice-cd/sluice/internal/functions"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/stage/lambda"
	"github.com/sluice-cd/sluice/internal/stage/preconditions"
	"github.com/sluice-cd/sluice/internal/stage/variables"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
	"github.com/sluice-cd/sluice/internal/web"
)

// newStageRegistry returns every stage type Sluice runs, with Orca's
// alternate names. The Lambda stages reach AWS through accounts; nil
// accounts give a registry that validates documents but cannot run Lambda
// stages (sluice pipeline validate).
func newStageRegistry(accounts *awsclient.Accounts) *stage.Registry {
	types := []stage.Type{wait.Type{}, judgment.Type{}, variables.Type{}, preconditions.Type{}}
	r := stage.NewRegistry(append(types, lambda.Types(accounts)...)...)
	for alias, target := range lambda.Aliases {
		if r.Known(target) {
			r.Alias(alias, target)
		}
	}
	return r
}

// validateOptions returns the options the server validates pipeline
// documents with, so that `sluice pipeline validate` finds exactly what the
// server would.
func validateOptions() pipeline.ValidateOptions {
	return pipeline.ValidateOptions{StageTypes: newStageRegistry(nil), CheckExpression: expr.Check}
}

// node is one running Sluice: its store, engine, local Lambda and API
// handler.
type node struct {
	store    store.Store
	engine   *engine.Engine
	lambda   *locallambda.Server // nil when disabled
	accounts *awsclient.Accounts
	api      http.Handler
	log      *slog.Logger
	unlock   func()
}

// nodeOptions say where a node keeps its state.
type nodeOptions struct {
	DataDir     string
	DatabaseURL string // postgres://…; SQLite in DataDir when empty
	// NodeID is engine.Config.NodeID on Postgres; empty means defaultNodeID.
	NodeID string
	// LambdaAddr is where the embedded local Lambda listens (loopback
	// only); "off" disables it.
	LambdaAddr string
	// Config is the path of sluice.yaml, which declares AWS accounts; none
	// is needed to use the local Lambda.
	Config  string
	Logger  *slog.Logger
	Version string
}

// LambdaOff as nodeOptions.LambdaAddr runs no local Lambda.
const LambdaOff = "off"

// DefaultLambdaAddr is where `sluice serve` and `sluice local serve` put
// the local Lambda (and its S3) unless told otherwise.
const DefaultLambdaAddr = "127.0.0.1:8085"

// startNode opens the store, starts the engine and builds the API.
func startNode(ctx context.Context, opts nodeOptions) (n *node, err error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	n = &node{log: log, unlock: func() {}}
	defer func() {
		if err != nil {
			n.close(context.WithoutCancel(ctx))
		}
	}()
	if opts.DatabaseURL != "" {
		if n.store, err = postgres.Open(ctx, opts.DatabaseURL); err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
	} else {
		// One process owns a SQLite database: the engine relies on it to
		// rescue the jobs a killed process left running.
		if n.unlock, err = lockDataDir(opts.DataDir); err != nil {
			return nil, err
		}
		if n.store, err = sqlite.Open(ctx, filepath.Join(opts.DataDir, "sluice.db")); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	lambdaURL := ""
	if opts.LambdaAddr != LambdaOff {
		if n.lambda, err = startLocalLambda(ctx, filepath.Join(opts.DataDir, "lambda"), opts.LambdaAddr, log); err != nil {
			return nil, err
		}
		lambdaURL = n.lambda.URL()
	}
	var accountsCfg awsclient.Config
	if opts.Config != "" {
		if accountsCfg, err = awsclient.LoadConfig(opts.Config); err != nil {
			return nil, err
		}
	}
	accounts, err := awsclient.New(ctx, accountsCfg, awsclient.LocalEndpoint{URL: lambdaURL})
	if err != nil {
		return nil, err
	}
	n.accounts = accounts
	stages := newStageRegistry(accounts)
	nodeID := ""
	if opts.DatabaseURL != "" {
		if nodeID = opts.NodeID; nodeID == "" {
			nodeID = defaultNodeID(opts.DataDir)
		}
		log.Info("node", "node_id", nodeID)
	}
	n.engine, err = engine.New(ctx, engine.Config{Store: n.store, Stages: stages, NodeID: nodeID,
		Logger: log.With("subsystem", "engine")})
	if err != nil {
		return nil, fmt.Errorf("create engine: %w", err)
	}
	if err := n.engine.Start(ctx); err != nil {
		return nil, fmt.Errorf("start engine: %w", err)
	}
	n.api = httpapi.New(httpapi.Config{
		Store:          n.store,
		Engine:         n.engine,
		Validate:       pipeline.ValidateOptions{StageTypes: stages, CheckExpression: expr.Check},
		Logger:         log,
		Version:        opts.Version,
		LocalLambdaURL: lambdaURL,
		Functions:      functions.New(functions.Config{Accounts: accounts, LocalLambdaURL: lambdaURL, Logger: log}),
		Console: func(api http.Handler) http.Handler {
			return web.New(api, web.Config{Logger: log})
		},
	})
	return n, nil
}

// startLocalLambda starts the embedded Lambda endpoint with its data in dir.
func startLocalLambda(ctx context.Context, dir, addr string, log *slog.Logger) (*locallambda.Server, error) {
	srv, err := locallambda.New(locallambda.Config{DataDir: dir, Logger: log.With("subsystem", "locallambda")})
	if err != nil {
		return nil, fmt.Errorf("start the local lambda: %w", err)
	}
	if _, err := srv.Start(context.WithoutCancel(ctx), addr); err != nil {
		srv.Close()
		return nil, &exitError{code: ExitFailed, err: fmt.Errorf("start the local lambda on %s: %w", addr, err),
			hint: "choose another address with --lambda-addr, or --lambda-addr off to run without it"}
	}
	return srv, nil
}

// close stops the engine (letting running jobs finish) and closes the store.
func (n *node) close(ctx context.Context) {
	if n.engine != nil {
		if err := n.engine.Stop(ctx); err != nil {
			n.log.Error("stop engine", "err", err)
		}
	}
	if n.lambda != nil {
		if err := n.lambda.Close(); err != nil {
			n.log.Error("stop local lambda", "err", err)
		}
	}
	if n.store != nil {
		n.store.Close()
	}
	n.unlock()
}

// defaultNodeID names a server on Postgres after its host and data
// directory: stable across its restarts, and different for two servers on
// one machine, which cannot share a data directory's local Lambda.
func defaultNodeID(dataDir string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	sum := sha256.Sum256([]byte(dataDir))
	return fmt.Sprintf("%.80s-%x", host, sum[:4])
}

// lockDataDir takes an exclusive lock on the data directory so that two
// processes never share one SQLite database.
func lockDataDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "sluice.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &exitError{code: ExitFailed, err: fmt.Errorf("data directory %s is in use by another sluice process", dir),
				hint: "stop that process, or give this one its own --data-dir (or a shared --database-url postgres://…)"}
		}
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	return func() { f.Close() }, nil
}
