package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/atomicfile"
	"github.com/sluice-cd/sluice/internal/httpserve"
	"github.com/sluice-cd/sluice/internal/node"
	"github.com/spf13/cobra"
)

// serveOptions are the flags of `sluice serve`, checked and with defaults
// applied.
type serveOptions struct {
	// Addr is the TCP address to listen on (DefaultAddr); port 0 picks a
	// free port.
	Addr string
	// AddrFile, when set, receives the server's URL (http://host:port and a
	// newline) once the listener is bound, written atomically. Scripts and
	// tests that listen on port 0 read it to find the server.
	AddrFile string
	// DataDir holds the SQLite database and the local Lambda's files
	// (default ./.sluice). It is created if missing.
	DataDir string
	// DatabaseURL, when set (postgres://…), selects Postgres instead of the
	// SQLite database in DataDir.
	DatabaseURL string
	// NodeID names this server among those sharing a Postgres database
	// (node.Options.NodeID). Empty: this host's name and a hash of the
	// data directory, which a restart on the same machine keeps.
	NodeID string
	// LambdaAddr is where the embedded local Lambda listens; "off"
	// disables it; empty is node.Options' default.
	LambdaAddr string
	// LocalLambdaURL is a local Lambda running elsewhere, used as the
	// local account instead of an embedded one.
	LocalLambdaURL string
	// Config is the path of sluice.yaml (AWS accounts); optional.
	Config string
	// Logger writes to stderr at the level of --log-level.
	Logger *slog.Logger
	// Version is the binary's version, for /health and /version.
	Version string
	// ShutdownTimeout bounds the graceful shutdown of the HTTP server.
	ShutdownTimeout time.Duration
}

func (a *app) newServeCmd() *cobra.Command {
	var (
		opts     serveOptions
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Sluice server: API, engine and local Lambda",
		Long: `Run the Sluice server: the JSON API under /api/v1, the execution engine and the
embedded local Lambda endpoint, in one process.

With no flags it listens on ` + DefaultAddr + ` and keeps its SQLite database in ./.sluice,
and runs the local Lambda on ` + node.DefaultLambdaAddr + `.

Give --database-url postgres://… to share a Postgres database between servers. They
then share one local Lambda too, or none: run it once (sluice local serve) and give
every server --local-lambda-url; a server on Postgres does not run its own.
It stops gracefully on SIGINT or SIGTERM.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			level, err := parseLogLevel(logLevel)
			if err != nil {
				return err
			}
			if opts.DatabaseURL != "" && !strings.HasPrefix(opts.DatabaseURL, "postgres://") && !strings.HasPrefix(opts.DatabaseURL, "postgresql://") {
				return usageError(fmt.Sprintf("--database-url %q is not a postgres:// URL", opts.DatabaseURL),
					"leave --database-url out to use SQLite in --data-dir")
			}
			opts.Logger = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			opts.Version = version()
			opts.ShutdownTimeout = 10 * time.Second
			return runServe(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Addr, "addr", DefaultAddr, "address to listen on; port 0 picks a free port")
	f.StringVar(&opts.AddrFile, "addr-file", "", "write the server's URL to this file once it listens")
	f.StringVar(&opts.DataDir, "data-dir", ".sluice", "directory for the SQLite database and local Lambda files")
	f.StringVar(&opts.DatabaseURL, "database-url", "", "Postgres URL (postgres://…); SQLite in --data-dir when empty")
	f.StringVar(&opts.NodeID, "node-id", "", "with --database-url: this server's name among those sharing the database, kept across restarts so that a restarted server resumes its jobs at once (default: host name and a hash of --data-dir)")
	f.StringVar(&opts.LambdaAddr, "lambda-addr", "", "loopback address of the embedded local Lambda and its S3, \"off\" to run none (default "+node.DefaultLambdaAddr+" on SQLite; off on Postgres)")
	f.StringVar(&opts.LocalLambdaURL, "local-lambda-url", "", "use the local Lambda at this URL (sluice local serve) as the local account instead of running one; every server sharing a database gets the same")
	f.StringVar(&opts.Config, "config", "", "sluice.yaml declaring AWS accounts (none needed for the local Lambda)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

func parseLogLevel(s string) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(s)); err != nil {
		return 0, usageError(fmt.Sprintf("--log-level %q is not a level", s), "use debug, info, warn or error")
	}
	return level, nil
}

// runServe starts a node — store, engine, API — and serves it until ctx
// ends.
func runServe(ctx context.Context, opts serveOptions) error {
	n, err := node.Start(ctx, node.Options{
		DataDir: opts.DataDir, DatabaseURL: opts.DatabaseURL, NodeID: opts.NodeID,
		LambdaAddr: opts.LambdaAddr, LocalLambdaURL: opts.LocalLambdaURL,
		Config: opts.Config, Logger: opts.Logger, Version: opts.Version,
	})
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
		defer cancel()
		n.Close(stopCtx)
	}()
	return serveHTTP(ctx, opts, n.API)
}

// serveHTTP listens on opts.Addr, writes opts.AddrFile, serves h until ctx
// ends and then shuts down gracefully: the listener closes, open event
// streams end, and requests in flight get opts.ShutdownTimeout to finish.
func serveHTTP(ctx context.Context, opts serveOptions, h http.Handler) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return &exitError{code: ExitFailed, err: fmt.Errorf("listen on %s: %w", opts.Addr, err),
			hint: "another process may be using the port; choose another with --addr"}
	}
	url := "http://" + ln.Addr().String()
	if opts.AddrFile != "" {
		if err := atomicfile.Write(opts.AddrFile, []byte(url+"\n")); err != nil {
			ln.Close()
			return fmt.Errorf("write --addr-file: %w", err)
		}
	}

	// Event streams run until the client leaves; their context ends when
	// shutdown begins so that Shutdown does not wait for them.
	streamCtx, endStreams := context.WithCancel(context.WithoutCancel(ctx))
	defer endStreams()
	srv := httpserve.New(httpserve.Config{
		Handler:     h,
		BaseContext: func(net.Listener) context.Context { return streamCtx },
		Logger:      log,
		ErrorLevel:  slog.LevelWarn,
	})
	srv.RegisterOnShutdown(endStreams)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("sluice is serving", "url", url, "api", url+"/api/v1")

	select {
	case err := <-served:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "cause", context.Cause(ctx))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down http server: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}
