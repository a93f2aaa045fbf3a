package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
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
	// EdgeAddr, if set, is where the local Lambda's CloudFront edge proxy
	// serves distributions (node.Options.EdgeAddr).
	EdgeAddr string
	// LocalLambdaURL is a local Lambda running elsewhere, used as the
	// local account instead of an embedded one.
	LocalLambdaURL string
	// Config is the path of sluice.yaml (AWS accounts, auth, server
	// hosts); optional.
	Config string
	// Logger writes to stderr at the level of --log-level.
	Logger *slog.Logger
	// Version is the binary's version, for /health and /version.
	Version string
	// ShutdownTimeout bounds the graceful shutdown of the HTTP server.
	ShutdownTimeout time.Duration
	// TLSCert and TLSKey name the PEM certificate and key to serve HTTPS
	// with; runServe loads them into TLS. Both or neither.
	TLSCert, TLSKey string
	// TLS, when set, makes the server speak HTTPS only.
	TLS *tls.Config
	// BehindProxy says a reverse proxy in front terminates TLS
	// (node.Options.BehindProxy): a non-loopback Addr may then serve
	// plain HTTP, to the proxy.
	BehindProxy bool
	// Hosts are Host names served besides the loopback names
	// (node.Options.Hosts).
	Hosts []string
	// Ready, when set, is called with the server's URL once it listens.
	Ready func(url string)
}

func (a *app) newServeCmd() *cobra.Command {
	var (
		opts                serveOptions
		logLevel, logFormat string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Sluice server: API, engine and local Lambda",
		Long: `Run the Sluice server: the JSON API under /api/v1, the execution engine and the
embedded local Lambda endpoint, in one process.

With no flags it listens on ` + DefaultAddr + ` and keeps its SQLite database in ./.sluice,
and runs the local Lambda on ` + node.DefaultLambdaAddr + `.

Every API request needs a credential. At first start the server makes an admin token
and keeps it in DATA_DIR/admin.token, readable by this user alone; the CLI on this
machine, run as this user, finds and uses it by itself. At every start it prints a
one-time link that signs a browser in to the console ('sluice login-link' prints
another). Make tokens for others with 'sluice token create'.

It refuses an --addr reachable from the network (0.0.0.0, a LAN address) unless it
serves HTTPS (--tls-cert and --tls-key) or a TLS-terminating reverse proxy stands in
front (--behind-proxy): otherwise tokens and session cookies would cross the network
in clear text. It answers only requests whose Host is a loopback name, the host of
--addr, an --allowed-host or one of server.hosts in sluice.yaml, which defeats DNS
rebinding; name the hosts people reach it by.

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
			for _, h := range opts.Hosts {
				if h == "" || strings.ContainsAny(h, "/ ") {
					return usageError(fmt.Sprintf("--allowed-host %q is not a host name", h), "give a name or address as browsers send it in Host, e.g. --allowed-host sluice.example.com")
				}
			}
			handlerOpts := &slog.HandlerOptions{Level: level}
			switch logFormat {
			case "text":
				opts.Logger = slog.New(slog.NewTextHandler(a.stderr, handlerOpts))
			case "json":
				opts.Logger = slog.New(slog.NewJSONHandler(a.stderr, handlerOpts))
			default:
				return usageError(fmt.Sprintf("--log-format %q is not a format", logFormat), "use text (key=value lines) or json (one JSON object per line, for a log shipper)")
			}
			opts.Version = version()
			opts.ShutdownTimeout = 10 * time.Second
			return runServe(cmd.Context(), opts, a.stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Addr, "addr", DefaultAddr, "address to listen on; port 0 picks a free port")
	f.StringVar(&opts.AddrFile, "addr-file", "", "write the server's URL to this file once it listens")
	f.StringVar(&opts.DataDir, "data-dir", ".sluice", "directory for the SQLite database and local Lambda files")
	f.StringVar(&opts.DatabaseURL, "database-url", "", "Postgres URL (postgres://…); SQLite in --data-dir when empty")
	f.StringVar(&opts.NodeID, "node-id", "", "with --database-url: this server's name among those sharing the database, kept across restarts so that a restarted server resumes its jobs at once (default: host name and a hash of --data-dir)")
	f.StringVar(&opts.LambdaAddr, "lambda-addr", "", "loopback address of the embedded local Lambda and its S3, \"off\" to run none (default "+node.DefaultLambdaAddr+" on SQLite; off on Postgres)")
	f.StringVar(&opts.EdgeAddr, "edge-addr", "", "loopback address of the local Lambda's CloudFront edge proxy, which serves its distributions and runs their Lambda@Edge functions (docs/local-edge.md); none when empty")
	f.StringVar(&opts.LocalLambdaURL, "local-lambda-url", "", "use the local Lambda at this URL (sluice local serve) as the local account instead of running one; every server sharing a database gets the same")
	f.StringVar(&opts.Config, "config", "", "sluice.yaml: AWS accounts (none needed for the local Lambda), auth (who may do what per application) and server.hosts")
	f.StringVar(&opts.TLSCert, "tls-cert", "", "PEM certificate (with its chain) to serve HTTPS with; needs --tls-key")
	f.StringVar(&opts.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.BoolVar(&opts.BehindProxy, "behind-proxy", false, "a reverse proxy in front terminates TLS: allow a non-loopback --addr without --tls-cert, take the client's address from X-Forwarded-For, and mark cookies Secure")
	f.StringArrayVar(&opts.Hosts, "allowed-host", nil, "a Host name the API and console answer to besides the loopback names (repeatable; sluice.yaml: server.hosts)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "log format: text (key=value lines) or json (one object per line)")
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
// ends. Once it listens, it prints the console's login link and the admin
// token's file to console (stderr).
func runServe(ctx context.Context, opts serveOptions, console io.Writer) error {
	var err error
	if opts.TLS, err = loadTLS(opts.TLSCert, opts.TLSKey); err != nil {
		return err
	}
	scope, addrHosts, err := checkExposure(ctx, opts)
	if err != nil {
		return err
	}
	n, err := node.Start(ctx, node.Options{
		DataDir: opts.DataDir, DatabaseURL: opts.DatabaseURL, NodeID: opts.NodeID,
		LambdaAddr: opts.LambdaAddr, LocalLambdaURL: opts.LocalLambdaURL, EdgeAddr: opts.EdgeAddr,
		Config: opts.Config, Logger: opts.Logger, Version: opts.Version,
		Hosts: append(addrHosts, opts.Hosts...), BehindProxy: opts.BehindProxy,
		ExternalURL: externalURL(opts),
	})
	if err != nil {
		return err
	}
	if scope == scopeWildcard && len(n.Hosts) == 0 && opts.Logger != nil {
		opts.Logger.Warn("listening on every interface, but only requests for localhost, 127.0.0.1 and ::1 are served until the server's host names are configured",
			"addr", opts.Addr, "fix", "--allowed-host NAME, or server.hosts in sluice.yaml")
	}
	opts.Ready = func(url string) { printWelcome(ctx, opts, n, url, console) }
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
		defer cancel()
		n.Close(stopCtx)
	}()
	return serveHTTP(ctx, opts, n.API)
}

// serveHTTP listens on opts.Addr (HTTPS only, with opts.TLS), writes
// opts.AddrFile, calls opts.Ready, serves h until ctx ends and then shuts
// down gracefully: the listener closes, open event streams end, and
// requests in flight get opts.ShutdownTimeout to finish.
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
	scheme := "http"
	if opts.TLS != nil {
		ln, scheme = tls.NewListener(ln, opts.TLS), "https"
	}
	url := localURL(scheme + "://" + ln.Addr().String())
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
	if opts.Ready != nil {
		opts.Ready(url)
	}

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

// printWelcome tells the person who started the server how to reach it: a
// one-time link that signs the console in, as Jupyter prints one, and
// where the admin token is.
func printWelcome(ctx context.Context, opts serveOptions, n *node.Node, url string, w io.Writer) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	link, err := n.LoginLink(ctx)
	if err != nil {
		log.Warn("make the console's login link", "err", err, "fix", "run sluice login-link")
	} else {
		log.Info("console login link (works once)", "url", url+link)
		fmt.Fprintf(w, "\nConsole: %s\n", url+link)
		if opts.BehindProxy {
			fmt.Fprintf(w, "  through the proxy: its URL followed by %s\n", link)
		}
		fmt.Fprintln(w, "  (the link signs a browser in once; 'sluice login-link' prints another)")
	}
	log.Info("admin token", "file", n.AdminTokenFile)
	how := "the CLI on this machine, as this user, reads it by itself"
	if opts.BehindProxy {
		// Behind a proxy the server cannot tell a client on this machine
		// from one the proxy forwards, so /health does not name the file.
		how = "give it to the CLI: export " + EnvToken + "=$(cat " + n.AdminTokenFile + ")"
	}
	fmt.Fprintf(w, "Admin token: %s\n  (%s)\n\n", n.AdminTokenFile, how)
}

// externalURL is the server's URL for the links in notifications, as far
// as the listen address tells it: none when the port is picked at start
// (sluice.yaml's server.externalURL then gives it).
func externalURL(opts serveOptions) string {
	_, port, err := net.SplitHostPort(opts.Addr)
	if err != nil || port == "0" {
		return ""
	}
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
	}
	return localURL(scheme + "://" + opts.Addr)
}
