// Package node is Sluice's composition root: it opens the store, builds the
// engine on the job queue, starts the embedded local Lambda, builds the AWS
// accounts and the stage registry, and assembles the API with its console.
// `sluice serve`, `sluice demo` and tests start a Sluice the same way,
// through Start.
//
// It holds no logic of its own beyond wiring and the start-up checks that
// need several parts at once (which local Lambda is the `local` account).
// Every failure to start is an *Error that says what to do.
package node

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // executionWindow.timeZone works on machines without a zoneinfo database

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sluice-cd/sluice/internal/auth"
	"github.com/sluice-cd/sluice/internal/auth/oidc"
	"github.com/sluice-cd/sluice/internal/awsclient"
	"github.com/sluice-cd/sluice/internal/canary/savedconfigs"
	"github.com/sluice-cd/sluice/internal/egress"
	"github.com/sluice-cd/sluice/internal/engine"
	"github.com/sluice-cd/sluice/internal/expr"
	"github.com/sluice-cd/sluice/internal/functions"
	"github.com/sluice-cd/sluice/internal/httpapi"
	"github.com/sluice-cd/sluice/internal/locallambda"
	"github.com/sluice-cd/sluice/internal/locallambda/access"
	"github.com/sluice-cd/sluice/internal/notify"
	"github.com/sluice-cd/sluice/internal/pipeline"
	"github.com/sluice-cd/sluice/internal/stage"
	"github.com/sluice-cd/sluice/internal/stage/judgment"
	"github.com/sluice-cd/sluice/internal/stage/lambda"
	"github.com/sluice-cd/sluice/internal/stage/pipelinestage"
	"github.com/sluice-cd/sluice/internal/stage/preconditions"
	"github.com/sluice-cd/sluice/internal/stage/variables"
	"github.com/sluice-cd/sluice/internal/stage/wait"
	"github.com/sluice-cd/sluice/internal/stage/webhook"
	"github.com/sluice-cd/sluice/internal/stage/window"
	"github.com/sluice-cd/sluice/internal/store"
	"github.com/sluice-cd/sluice/internal/store/postgres"
	"github.com/sluice-cd/sluice/internal/store/sqlite"
	"github.com/sluice-cd/sluice/internal/store/sqlstore"
	"github.com/sluice-cd/sluice/internal/trigger"
	"github.com/sluice-cd/sluice/internal/web"
	"sigs.k8s.io/yaml"
)

// LambdaOff as Options.LambdaAddr runs no embedded local Lambda.
const LambdaOff = "off"

// DefaultLambdaAddr is where the embedded local Lambda (and its S3) listens
// unless told otherwise.
const DefaultLambdaAddr = "127.0.0.1:8085"

// Options say where a node keeps its state and which local Lambda it uses.
type Options struct {
	// DataDir holds the SQLite database and the embedded local Lambda's
	// files. Created if missing. Required.
	DataDir string
	// DatabaseURL (postgres://…) selects a Postgres database shared with
	// other nodes; empty means SQLite in DataDir.
	DatabaseURL string
	// NodeID names this node among those sharing a Postgres database;
	// empty means DefaultNodeID(DataDir).
	NodeID string
	// LambdaAddr is where the embedded local Lambda listens (loopback
	// only), or LambdaOff. Empty means DefaultLambdaAddr on SQLite and
	// LambdaOff on Postgres, where the `local` account must be one endpoint
	// that every node shares (LocalLambdaURL); a non-empty LambdaAddr other
	// than LambdaOff is refused on Postgres.
	LambdaAddr string
	// EdgeAddr, if set, is where the embedded local Lambda's CloudFront edge
	// proxy serves distributions (loopback only, e.g. 127.0.0.1:8086);
	// empty runs none. Needs an embedded local Lambda.
	EdgeAddr string
	// LocalLambdaURL makes the `local` account an endpoint that runs
	// elsewhere (`sluice local serve`), instead of an embedded one. On a
	// shared Postgres database give every node the same URL.
	LocalLambdaURL string
	// Config is the path of sluice.yaml, which declares AWS accounts; none
	// is needed for the local Lambda.
	Config string
	// ZipFileRoot, if set, replaces sluice.yaml's stages.zipFileRoot: the
	// directory a Lambda stage's zipFile may read from (sluice demo gives
	// its working directory). Empty in both, zipFile is refused.
	ZipFileRoot string
	// Logger defaults to one that discards everything.
	Logger *slog.Logger
	// Version is the binary's version, for /health and /version.
	Version string
	// Hosts are Host names the API and console answer to besides the
	// loopback names (and those of sluice.yaml's server.hosts).
	Hosts []string
	// BehindProxy says a reverse proxy in front terminates TLS
	// (httpapi.Config.BehindProxy).
	BehindProxy bool
	// ExternalURL is the server's URL for the links in notifications,
	// unless sluice.yaml's server.externalURL gives one.
	ExternalURL string
}

// Node is one running Sluice.
type Node struct {
	Store    store.Store
	Engine   *engine.Engine
	Lambda   *locallambda.Server // the embedded local Lambda; nil when off
	EdgeAddr net.Addr            // where the local CloudFront's edge proxy listens; nil when off
	Accounts *awsclient.Accounts
	// LocalLambdaURL is the endpoint of the `local` account: the embedded
	// local Lambda's or Options.LocalLambdaURL; empty when there is none.
	LocalLambdaURL string
	// API serves the JSON API and the console.
	API http.Handler
	// Auth issues and checks credentials.
	Auth *auth.Authenticator
	// AdminToken is the token in AdminTokenFile, with the role admin.
	AdminToken     string
	AdminTokenFile string
	// Hosts are the Host names served besides the loopback names:
	// Options.Hosts and sluice.yaml's server.hosts.
	Hosts []string
	log   *slog.Logger
	// stopLog stops the log of executions' events (execution_log.go).
	stopLog func()
}

// Error is a failure to start, with what to do about it.
type Error struct {
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func startError(hint string, format string, args ...any) *Error {
	return &Error{Err: fmt.Errorf(format, args...), Hint: hint}
}

// Start opens the store, starts the engine and the local Lambda, and builds
// the API. On error, whatever had started is stopped again.
func Start(ctx context.Context, opts Options) (*Node, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Node{log: log}
	if err := n.start(ctx, opts); err != nil {
		n.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return n, nil
}

func (n *Node) start(ctx context.Context, opts Options) error {
	lambdaAddr, err := localLambdaPlan(opts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.DataDir, 0o750); err != nil {
		return startError("give --data-dir a directory this user may create and write", "create data directory: %w", err)
	}
	if n.Store, err = openStore(ctx, opts); err != nil {
		return err
	}
	cfg, err := loadConfig(opts.Config)
	if err != nil {
		return err
	}
	accountsCfg := cfg.Accounts
	n.LocalLambdaURL = opts.LocalLambdaURL
	if lambdaAddr != LambdaOff {
		if n.Lambda, err = startLocalLambda(ctx, filepath.Join(opts.DataDir, "lambda"), lambdaAddr, accountsCfg.Local, n.log); err != nil {
			return err
		}
		n.LocalLambdaURL = n.Lambda.URL()
		if opts.EdgeAddr != "" {
			if n.EdgeAddr, err = n.Lambda.StartEdge(context.WithoutCancel(ctx), opts.EdgeAddr); err != nil {
				return startError("choose a free loopback address with --edge-addr (127.0.0.1:0 picks a port)", "start the local CloudFront edge proxy on %s: %w", opts.EdgeAddr, err)
			}
			n.log.Info("local cloudfront edge proxy", "url", "http://"+n.EdgeAddr.String())
		}
	} else if opts.EdgeAddr != "" {
		return startError("drop --edge-addr, or run the embedded local Lambda", "--edge-addr %s: the edge proxy is the embedded local Lambda's, and this server runs none", opts.EdgeAddr)
	}
	if n.Accounts, err = awsclient.New(ctx, accountsCfg, awsclient.LocalEndpoint{URL: n.LocalLambdaURL}); err != nil {
		return &Error{Err: err, Hint: "fix the accounts in the file given to --config"}
	}
	hooks, err := webhook.New(webhook.Options{AllowedHosts: cfg.Webhooks.AllowedHosts})
	if err != nil {
		return &Error{Err: err, Hint: "fix webhooks.allowedHosts in the file given to --config (docs/webhooks.md)"}
	}
	stages := StageRegistry(hooks, lambda.Options{
		Accounts:    n.Accounts,
		ZipFileRoot: cmp.Or(opts.ZipFileRoot, accountsCfg.Stages.ZipFileRoot),
		Artifacts:   cfg.artifactOptions,
		Analysis: lambda.Analysis{
			Configs:        savedconfigs.Of(n.Store),
			LocalLambdaURL: n.LocalLambdaURL,
			Prometheus:     cfg.Canary.prometheus(),
		},
	}, cfg.ExecutionWindow.location())
	nodeID := ""
	if opts.DatabaseURL != "" {
		if nodeID = opts.NodeID; nodeID == "" {
			nodeID = DefaultNodeID(opts.DataDir)
		}
		n.log.Info("node", "node_id", nodeID, "local_lambda", cmp.Or(n.LocalLambdaURL, "none"))
	}
	notifyCfg, err := notify.ParseFileConfig(cfg.Notifications, cmp.Or(cfg.Server.ExternalURL, opts.ExternalURL))
	if err != nil {
		return &Error{Err: fmt.Errorf("%s: %w", opts.Config, err), Hint: "fix the notifications section of the file given to --config (docs/notifications.md)"}
	}
	notifier, err := notify.New(notifyCfg)
	if err != nil {
		return &Error{Err: fmt.Errorf("%s: %w", opts.Config, err), Hint: "fix the notifications section of the file given to --config (docs/notifications.md)"}
	}
	policy := auth.NewPolicy(cfg.Auth)
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.Engine, err = engine.New(ctx, engine.Config{Store: n.Store, Stages: stages, NodeID: nodeID,
		Logger: n.log.With("subsystem", "engine"), Notifier: notifier, Metrics: metrics, CronTimeZone: cfg.Triggers.CronTimeZone,
		CheckApplication: policy.CheckApplication, Retention: cfg.Retention.engine()})
	if err != nil {
		return &Error{Err: fmt.Errorf("create engine: %w", err), Hint: databaseHint(opts, err)}
	}
	if err := n.Engine.Start(ctx); err != nil {
		return &Error{Err: fmt.Errorf("start engine: %w", err), Hint: databaseHint(opts, err)}
	}
	if n.stopLog, err = n.startExecutionLog(ctx); err != nil {
		return &Error{Err: fmt.Errorf("read the event log: %w", err), Hint: databaseHint(opts, err)}
	}
	if err := n.startAuth(ctx, opts, cmp.Or(nodeID, DefaultNodeID(opts.DataDir)), cfg.Auth); err != nil {
		return err
	}
	var sso *oidc.Provider
	if cfg.Auth.OIDC != nil {
		if sso, err = oidc.New(ctx, *cfg.Auth.OIDC, oidc.Options{}); err != nil {
			return &Error{Err: err, Hint: "check auth.oidc in the file given to --config, and that the identity provider answers at its issuer URL (docs/security.md)"}
		}
	}
	n.Hosts = append(slices.Clone(opts.Hosts), cfg.Server.Hosts...)
	n.API = httpapi.New(httpapi.Config{
		OIDC:           sso,
		Metrics:        metrics,
		Auth:           n.Auth,
		Policy:         policy,
		Hosts:          n.Hosts,
		BehindProxy:    opts.BehindProxy,
		AdminTokenFile: n.AdminTokenFile,
		Store:          n.Store,
		Engine:         n.Engine,
		Stages:         stages,
		Validate: pipeline.ValidateOptions{StageTypes: stages, CheckExpression: expr.Check, CheckAccount: n.Accounts.CheckApplication,
			TriggerTypes: cfg.Triggers.registry(), CheckApplication: policy.CheckApplication},
		CheckTarget: func(account, region string) error {
			_, err := n.Accounts.In(account, region)
			return err
		},
		TriggerSecrets: cfg.Triggers.Secrets,
		Logger:         n.log,
		Version:        opts.Version,
		LocalLambdaURL: n.LocalLambdaURL,
		Functions:      functions.New(functions.Config{Accounts: n.Accounts, LocalLambdaURL: n.LocalLambdaURL, Logger: n.log}),
		Console: func(api http.Handler) http.Handler {
			return web.New(api, web.Config{Logger: n.log})
		},
	})
	return nil
}

// localLambdaPlan decides where the embedded local Lambda listens, or that
// it does not run, so that the `local` account is one endpoint for every
// node that shares a database — never one local Lambda per node.
func localLambdaPlan(opts Options) (addr string, err error) {
	switch {
	case opts.LocalLambdaURL != "":
		if opts.LambdaAddr != "" && opts.LambdaAddr != LambdaOff {
			return "", startError("give one of them: --local-lambda-url to use a local Lambda that runs elsewhere, or --lambda-addr to run one here",
				"--lambda-addr %s and --local-lambda-url %s both name the local account's endpoint", opts.LambdaAddr, opts.LocalLambdaURL)
		}
		return LambdaOff, nil
	case opts.DatabaseURL != "":
		if opts.LambdaAddr != "" && opts.LambdaAddr != LambdaOff {
			return "", startError("run one local Lambda for all servers (sluice local serve --addr HOST:PORT) and start every server with --local-lambda-url http://HOST:PORT, or leave --lambda-addr out to run without the local account",
				"--lambda-addr %s: servers sharing a Postgres database cannot each run their own local Lambda — a pipeline's stages would land on different ones", opts.LambdaAddr)
		}
		return LambdaOff, nil
	case opts.LambdaAddr == "":
		return DefaultLambdaAddr, nil
	}
	return opts.LambdaAddr, nil
}

// openStore opens Postgres at opts.DatabaseURL or SQLite in opts.DataDir.
func openStore(ctx context.Context, opts Options) (store.Store, error) {
	if opts.DatabaseURL != "" {
		st, err := postgres.Open(ctx, opts.DatabaseURL)
		if err != nil {
			return nil, &Error{Err: err, Hint: databaseHint(opts, err)}
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, filepath.Join(opts.DataDir, "sluice.db"))
	if errors.Is(err, sqlite.ErrInUse) {
		return nil, startError("stop that process, or give this one its own --data-dir (or a shared --database-url postgres://…)",
			"data directory %s is in use by another sluice process", opts.DataDir)
	}
	if err != nil {
		return nil, &Error{Err: err, Hint: databaseHint(opts, err)}
	}
	return st, nil
}

// databaseHint says what to check when the database fails at start with
// err.
func databaseHint(opts Options, err error) string {
	switch {
	case errors.Is(err, sqlstore.ErrNewerDatabase):
		return "run the newer sluice that migrated this database, or give this one another --data-dir or --database-url"
	case opts.DatabaseURL == "":
		return "the database in --data-dir may be damaged; start with an empty --data-dir to check"
	}
	return "check that Postgres runs and that --database-url names a database this user may create tables in"
}

// config is what sluice.yaml holds, section by section; each section is
// read by the package it configures.
type config struct {
	Accounts awsclient.Config
	Auth     auth.Config
	Server   serverConfig
	Canary   canaryConfig
	// Notifications is the notifications section as written; notify
	// reads it (notify.ParseFileConfig).
	Notifications   json.RawMessage
	Webhooks        webhooksConfig
	ExecutionWindow executionWindowConfig
	Triggers        triggersConfig
	Artifacts       artifactsConfig
	Retention       retentionConfig
	// artifactOptions is Artifacts checked, the token file read.
	artifactOptions lambda.ArtifactOptions
}

// webhooksConfig is the webhooks section of sluice.yaml.
type webhooksConfig struct {
	// AllowedHosts are the hosts webhook stages may call besides loopback
	// (webhook.Policy): names, *.domains, addresses and networks.
	AllowedHosts []string `json:"allowedHosts"`
}

// executionWindowConfig is the executionWindow section of sluice.yaml:
// how stages' deployment windows (restrictedExecutionWindow) are read.
type executionWindowConfig struct {
	// TimeZone is the IANA time zone (e.g. America/Los_Angeles) whose
	// hours and days a window's whitelist and days are. Empty means UTC.
	// Orca reads its tasks.execution-window.timezone, America/Los_Angeles
	// unless configured.
	TimeZone string `json:"timeZone"`

	loc *time.Location // TimeZone, loaded by loadConfig
}

// location is the time zone of windows, UTC when none is configured.
func (c executionWindowConfig) location() *time.Location {
	if c.loc == nil {
		return time.UTC
	}
	return c.loc
}

// triggersConfig is the triggers section of sluice.yaml.
type triggersConfig struct {
	// Secrets are the secrets webhook and git triggers name with
	// secretName, by name: the key deliveries are signed with
	// (X-Hub-Signature-256) or GitLab's X-Gitlab-Token. They live here,
	// never in a pipeline document.
	Secrets map[string]string `json:"secrets"`
	// CronTimeZone is the time zone of cron triggers that name none
	// (Echo's scheduler.cron.timezone; default America/Los_Angeles).
	CronTimeZone string `json:"cronTimeZone"`
}

// registry returns the trigger types, knowing the configured secrets.
func (c triggersConfig) registry() *trigger.Registry {
	return trigger.Builtin(func(name string) bool { _, ok := c.Secrets[name]; return ok })
}

// artifactsConfig is the artifacts section of sluice.yaml (docs/artifacts.md).
type artifactsConfig struct {
	HTTP struct {
		AllowedHosts []string `json:"allowedHosts"`
	} `json:"http"`
	GitHub struct {
		Token     string `json:"token"`
		TokenFile string `json:"tokenFile"`
		APIURL    string `json:"apiUrl"`
	} `json:"github"`
}

// options checks the section and reads the token file; dir is the
// directory of sluice.yaml, which a relative tokenFile is taken from.
func (c artifactsConfig) options(dir string) (lambda.ArtifactOptions, error) {
	o := lambda.ArtifactOptions{GitHubToken: c.GitHub.Token, GitHubAPIURL: c.GitHub.APIURL}
	var err error
	if o.HTTP, err = egress.NewPolicy(lambda.HTTPSetting, c.HTTP.AllowedHosts); err != nil {
		return o, err
	}
	if c.GitHub.Token != "" && c.GitHub.TokenFile != "" {
		return o, errors.New("artifacts.github: give token or tokenFile, not both")
	}
	if c.GitHub.TokenFile != "" {
		path := c.GitHub.TokenFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return o, fmt.Errorf("artifacts.github.tokenFile: %w", err)
		}
		o.GitHubToken = strings.TrimSpace(string(b))
	}
	if c.GitHub.APIURL != "" {
		if u, err := url.Parse(c.GitHub.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return o, fmt.Errorf("artifacts.github.apiUrl %q must be an http(s) URL such as https://api.github.com", c.GitHub.APIURL)
		}
	}
	return o, nil
}

// canaryConfig is the canary section of sluice.yaml: the metric stores
// canary analyses may read besides the accounts' own.
type canaryConfig struct {
	// Prometheus are Prometheus servers by name; a kayentaCanary stage's
	// metricsAccountName picks one (the only one, when it names none).
	Prometheus []struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	} `json:"prometheus"`
}

func (c canaryConfig) prometheus() map[string]string {
	m := make(map[string]string, len(c.Prometheus))
	for _, p := range c.Prometheus {
		m[p.Name] = p.URL
	}
	return m
}

// check reports the first prometheus entry without a name or URL, or
// with a name given twice.
func (c canaryConfig) check() error {
	seen := map[string]bool{}
	for i, p := range c.Prometheus {
		switch {
		case p.Name == "":
			return fmt.Errorf("canary.prometheus[%d].name is required: the name a stage's metricsAccountName gives", i)
		case seen[p.Name]:
			return fmt.Errorf("canary.prometheus[%d].name %q is given twice", i, p.Name)
		}
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("canary.prometheus[%d].url %q must be an http:// or https:// URL of a Prometheus server", i, p.URL)
		}
		seen[p.Name] = true
	}
	return nil
}

// serverConfig is the server section of sluice.yaml.
type serverConfig struct {
	// Hosts are the Host names the API and console answer to besides the
	// loopback names: the names people and proxies reach the server by.
	Hosts []string `json:"hosts"`
	// ExternalURL is the server's URL as people reach it, for the links
	// in notifications; it overrides Options.ExternalURL.
	ExternalURL string `json:"externalURL"`
}

// loadConfig reads sluice.yaml at path; an empty path is an empty config.
func loadConfig(path string) (config, error) {
	var cfg config
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, &Error{Err: fmt.Errorf("read config: %w", err), Hint: "give --config the path of a readable sluice.yaml"}
	}
	if cfg.Accounts, err = awsclient.LoadConfig(path); err != nil {
		return cfg, &Error{Err: err, Hint: "fix the accounts in the file given to --config (docs: README, sluice.yaml)"}
	}
	if cfg.Auth, err = auth.ParseConfig(b); err != nil {
		return cfg, &Error{Err: fmt.Errorf("%s: %w", path, err), Hint: "fix the auth section of the file given to --config (docs/security.md)"}
	}
	var file struct {
		Server          json.RawMessage `json:"server"`
		Canary          json.RawMessage `json:"canary"`
		Notifications   json.RawMessage `json:"notifications"`
		Webhooks        json.RawMessage `json:"webhooks"`
		ExecutionWindow json.RawMessage `json:"executionWindow"`
		Triggers        json.RawMessage `json:"triggers"`
		Artifacts       json.RawMessage `json:"artifacts"`
		Retention       json.RawMessage `json:"retention"`
	}
	if err := yaml.Unmarshal(b, &file); err == nil && len(file.Canary) > 0 && string(file.Canary) != "null" {
		dec := json.NewDecoder(bytes.NewReader(file.Canary))
		dec.DisallowUnknownFields()
		err := dec.Decode(&cfg.Canary)
		if err == nil {
			err = cfg.Canary.check()
		}
		if err != nil {
			return cfg, &Error{Err: fmt.Errorf("%s: canary: %w", path, err), Hint: "the canary section has prometheus, a list of {name, url} (docs/canary-analysis.md)"}
		}
	}
	if err := yaml.Unmarshal(b, &file); err == nil && len(file.ExecutionWindow) > 0 && string(file.ExecutionWindow) != "null" {
		dec := json.NewDecoder(bytes.NewReader(file.ExecutionWindow))
		dec.DisallowUnknownFields()
		err := dec.Decode(&cfg.ExecutionWindow)
		if err == nil && cfg.ExecutionWindow.TimeZone != "" {
			cfg.ExecutionWindow.loc, err = time.LoadLocation(cfg.ExecutionWindow.TimeZone)
		}
		if err != nil {
			return cfg, &Error{Err: fmt.Errorf("%s: executionWindow: %w", path, err), Hint: "the executionWindow section has timeZone, an IANA time zone such as America/Los_Angeles or UTC (docs/pipelines.md)"}
		}
	}
	if err := yaml.Unmarshal(b, &file); err == nil && len(file.Artifacts) > 0 && string(file.Artifacts) != "null" {
		dec := json.NewDecoder(bytes.NewReader(file.Artifacts))
		dec.DisallowUnknownFields()
		err := dec.Decode(&cfg.Artifacts)
		if err == nil {
			cfg.artifactOptions, err = cfg.Artifacts.options(filepath.Dir(path))
		}
		if err != nil {
			return cfg, &Error{Err: fmt.Errorf("%s: artifacts: %w", path, err), Hint: "the artifacts section has http.allowedHosts and github.token, tokenFile, apiUrl (docs/artifacts.md)"}
		}
	}
	if err := yaml.Unmarshal(b, &file); err == nil && len(file.Server) > 0 && string(file.Server) != "null" {
		dec := json.NewDecoder(bytes.NewReader(file.Server))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg.Server); err != nil {
			return cfg, &Error{Err: fmt.Errorf("%s: server: %w", path, err), Hint: "the server section has hosts, a list of host names (docs/security.md), and externalURL (docs/notifications.md)"}
		}
		if u := cfg.Server.ExternalURL; u != "" {
			if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
				return cfg, &Error{Err: fmt.Errorf("%s: server.externalURL %q is not an http:// or https:// URL", path, u), Hint: "give the URL people open the console at, e.g. https://sluice.example.com"}
			}
		}
	}
	cfg.Notifications = file.Notifications
	if err := yaml.Unmarshal(b, &file); err == nil && len(file.Retention) > 0 && string(file.Retention) != "null" {
		dec := json.NewDecoder(bytes.NewReader(file.Retention))
		dec.DisallowUnknownFields()
		err := dec.Decode(&cfg.Retention)
		if err == nil {
			err = cfg.Retention.check()
		}
		if err != nil {
			return cfg, &Error{Err: fmt.Errorf("%s: retention: %w", path, err), Hint: "the retention section has executions, days, interval and applications (name: {executions, days}) (docs/operating.md)"}
		}
	}
	if err := yaml.Unmarshal(b, &file); err == nil && len(file.Webhooks) > 0 && string(file.Webhooks) != "null" {
		dec := json.NewDecoder(bytes.NewReader(file.Webhooks))
		dec.DisallowUnknownFields()
		err := dec.Decode(&cfg.Webhooks)
		if err == nil {
			_, err = egress.NewPolicy(webhook.Setting, cfg.Webhooks.AllowedHosts)
		}
		if err != nil {
			return cfg, &Error{Err: fmt.Errorf("%s: webhooks: %w", path, err), Hint: "the webhooks section has allowedHosts, a list of host names, *.domains, IP addresses and CIDR networks (docs/webhooks.md)"}
		}
	}
	if err := yaml.Unmarshal(b, &file); err == nil && len(file.Triggers) > 0 && string(file.Triggers) != "null" {
		dec := json.NewDecoder(bytes.NewReader(file.Triggers))
		dec.DisallowUnknownFields()
		err := dec.Decode(&cfg.Triggers)
		if err == nil && cfg.Triggers.CronTimeZone != "" {
			_, err = time.LoadLocation(cfg.Triggers.CronTimeZone)
		}
		for name, secret := range cfg.Triggers.Secrets {
			if err == nil && len(secret) < 16 {
				err = fmt.Errorf("secret %q is shorter than 16 characters; use a long random one (openssl rand -hex 32)", name)
			}
		}
		if err != nil {
			return cfg, &Error{Err: fmt.Errorf("%s: triggers: %w", path, err), Hint: "the triggers section has secrets (name: secret) and cronTimeZone (docs/triggers.md)"}
		}
	}
	return cfg, nil
}

// startAuth opens the authenticator and makes sure DATA_DIR/admin.token
// holds an admin token in force.
func (n *Node) startAuth(ctx context.Context, opts Options, nodeID string, cfg auth.Config) error {
	var err error
	if n.Auth, err = auth.NewAuthenticator(n.Store, cfg, nil); err != nil {
		return &Error{Err: err, Hint: "fix the auth section of the file given to --config (docs/security.md)"}
	}
	n.AdminTokenFile, err = filepath.Abs(filepath.Join(opts.DataDir, auth.AdminTokenFile))
	if err != nil {
		return fmt.Errorf("admin token file: %w", err)
	}
	if n.AdminToken, err = n.Auth.EnsureAdminToken(ctx, n.AdminTokenFile, adminTokenName(nodeID)); err != nil {
		return &Error{Err: err, Hint: "check that --data-dir is writable by this user"}
	}
	return nil
}

// adminTokenName names a node's admin token after the node, so that the
// servers sharing a database each keep their own: "admin@" and the node ID
// in the characters a token name may have.
func adminTokenName(nodeID string) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, nodeID)
	return fmt.Sprintf("admin@%.56s", name)
}

// LoginLink returns a one-time link path (/login?code=…) that opens a
// console session as the admin.
func (n *Node) LoginLink(ctx context.Context) (string, error) {
	code, _, err := n.Auth.NewLoginLink(ctx, auth.AdminSubject)
	if err != nil {
		return "", err
	}
	return "/login?code=" + url.QueryEscape(code), nil
}

// StartLocalLambda starts a local Lambda on its own (`sluice local serve`)
// with its data in dir and, when configPath names a sluice.yaml, the
// credentials of its local section.
func StartLocalLambda(ctx context.Context, dir, addr, configPath string, log *slog.Logger) (*locallambda.Server, error) {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return nil, err
	}
	return startLocalLambda(ctx, dir, addr, cfg.Accounts.Local, log)
}

func startLocalLambda(ctx context.Context, dir, addr string, local awsclient.LocalConfig, log *slog.Logger) (*locallambda.Server, error) {
	cfg := locallambda.Config{DataDir: dir, Logger: log.With("subsystem", "locallambda"), ConcurrentExecutions: local.ConcurrentExecutions}
	if c := local.Credentials; c != nil {
		cfg.Credentials = &access.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}
	}
	srv, err := locallambda.New(cfg)
	if err != nil {
		return nil, &Error{Err: fmt.Errorf("start the local lambda: %w", err),
			Hint: "another sluice may be using this --data-dir's local Lambda; stop it or choose another --data-dir"}
	}
	if _, err := srv.Start(context.WithoutCancel(ctx), addr); err != nil {
		srv.Close()
		return nil, &Error{Err: fmt.Errorf("start the local lambda on %s: %w", addr, err),
			Hint: "choose a free loopback address with --lambda-addr (127.0.0.1:0 picks a port), or --lambda-addr off to run without it"}
	}
	return srv, nil
}

// Close stops the engine (letting running jobs finish until ctx ends), the
// local Lambda and the store. It is safe on a node that started only in
// part.
func (n *Node) Close(ctx context.Context) {
	if n.stopLog != nil {
		n.stopLog()
	}
	if n.Engine != nil {
		if err := n.Engine.Stop(ctx); err != nil {
			n.log.Error("stop engine", "err", err)
		}
	}
	if n.Lambda != nil {
		if err := n.Lambda.Close(); err != nil {
			n.log.Error("stop local lambda", "err", err)
		}
	}
	if n.Store != nil {
		if err := n.Store.Close(); err != nil {
			n.log.Error("close store", "err", err)
		}
	}
}

// DefaultNodeID names a server on Postgres after its host and data
// directory: stable across its restarts, and different for two servers on
// one machine.
func DefaultNodeID(dataDir string) string {
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

// StageRegistry returns every stage type Sluice runs, with Orca's
// alternate names, the Lambda and analysis stages bound to opts, the
// webhook stage to hooks and deployment windows to the time zone windows;
// the zero Options and a nil hooks give a registry that validates
// documents but cannot run Lambda stages and whose webhooks may call only
// loopback (sluice pipeline validate).
func StageRegistry(hooks *webhook.Type, opts lambda.Options, windows *time.Location) *stage.Registry {
	if hooks == nil {
		hooks = webhook.Loopback()
	}
	types := []stage.Type{wait.Type{}, judgment.Type{}, variables.Type{}, preconditions.Type{}, pipelinestage.Type{}, hooks, window.Type{Location: windows}}
	r := stage.NewRegistry(append(types, lambda.Types(opts)...)...)
	for alias, target := range lambda.Aliases {
		if r.Known(target) {
			r.Alias(alias, target)
		}
	}
	return r
}

// ValidateOptions returns the options a server validates pipeline documents
// with, so that `sluice pipeline validate` finds exactly what the server
// would.
func ValidateOptions() pipeline.ValidateOptions {
	return pipeline.ValidateOptions{StageTypes: StageRegistry(nil, lambda.Options{}, time.UTC), CheckExpression: expr.Check,
		TriggerTypes: trigger.Builtin(nil)}
}
