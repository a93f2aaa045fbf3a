// Package cli is the sluice command line: one file per command, built on
// cobra. Commands other than serve and pipeline validate talk to a server
// only through apiclient.
//
// Nothing here is package-level mutable state: Main builds a fresh command
// tree per call, with stdin, stdout, stderr and the environment injected,
// so tests run commands in-process and in parallel.
//
// # Credentials
//
// Every command that calls a server sends one API token, found in this
// order (credentials.go): --token, $SLUICE_TOKEN, the token `sluice login`
// saved for that server URL ($XDG_CONFIG_HOME or ~/.config,
// sluice/credentials.json, mode 0600), and, for a server on a loopback
// address, its admin token, read from the file the server names in /health
// — readable only when the CLI runs as the server's user, and read only if
// it is a private file called admin.token holding a token. The CLI never
// prints a token except the one `sluice token create` makes, once. A 401
// names the credential that was sent and how to get one that works.
//
// # Exit codes
//
//	0    success; for run --follow, the execution SUCCEEDED
//	1    the command failed: the server refused the request, the document is
//	     invalid, or the followed execution ended TERMINAL, STOPPED or
//	     FAILED_CONTINUE
//	2    the followed execution was CANCELED
//	3    usage error (bad flags or arguments), or the server cannot be reached
//	130  interrupted (Ctrl-C)
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
	"github.com/sluice-cd/sluice/internal/node"
)

// Exit codes; see the package documentation.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitCanceled    = 2
	ExitUsage       = 3
	ExitInterrupted = 130
)

// DefaultServer is where the CLI looks for a server when neither --server
// nor $SLUICE_SERVER says otherwise; it is the default address of
// `sluice serve` (port 8084 on the loopback interface).
const (
	DefaultAddr   = "127.0.0.1:8084"
	DefaultServer = "http://" + DefaultAddr
)

// Environment variables the CLI reads.
const (
	EnvServer = "SLUICE_SERVER"
	EnvToken  = "SLUICE_TOKEN"
)

// app is the state of one invocation: I/O, the environment and the global
// flags.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	server string // --server
	token  string // --token

	cred credential // what client() sends, for the hint of a 401
}

// Main runs the sluice command line with args (without the program name)
// and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	root := a.newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return a.report(ctx, err)
}

func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "Continuous delivery for AWS Lambda",
		Long: `Sluice runs delivery pipelines for AWS Lambda functions: deploy a version,
route traffic, wait for a human or a canary judgment, roll back.

Start a server with 'sluice serve' (it listens on ` + DefaultAddr + ` by default),
then apply a pipeline and run it:

  sluice pipeline apply pipeline.yaml
  sluice run myapp/deploy --follow

Every request carries a credential: --token, else $` + EnvToken + `, else the token
'sluice login' saved for the server, else the admin token of a server on this
machine, which the CLI reads by itself when it runs as the server's user.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          groupRunE,
		Version:       versionLine(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		if ee, ok := errors.AsType[*exitError](err); ok {
			return ee // a flag's own usage error, e.g. -o xml
		}
		return usageError(err.Error(), "run '"+cmd.CommandPath()+" --help' for the flags it takes")
	})

	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", "", "URL of the Sluice server (default $"+EnvServer+", else "+DefaultServer+")")
	pf.StringVar(&a.token, "token", "", "API token (default $"+EnvToken+", else the one sluice login saved for the server, else the admin token of a server on this machine)")

	root.AddCommand(
		a.newServeCmd(),
		a.newDemoCmd(),
		a.newBenchCmd(),
		a.newLocalCmd(),
		a.newPipelineCmd(),
		a.newCanaryConfigCmd(),
		a.newRunCmd(),
		a.newExecutionCmd(),
		a.newJudgeCmd(),
		a.newRolloutCmd(),
		a.newAuditCmd(),
		a.newLoginCmd(),
		a.newLogoutCmd(),
		a.newWhoamiCmd(),
		a.newTokenCmd(),
		a.newLoginLinkCmd(),
		a.newVersionCmd(),
	)
	addCompletionCmd(root)
	root.SetHelpCommand(newHelpCmd())
	return root
}

// newHelpCmd is cobra's `help [command]`, except that an unknown topic is
// a usage error (exit 3) rather than a usage text and exit 0.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Args:  cobra.ArbitraryArgs,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := c.Root().Find(args)
			if err != nil || cmd == nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				return usageError(fmt.Sprintf("no help topic %q", strings.Join(args, " ")), "run 'sluice --help' for the commands")
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}

// addCompletionCmd adds cobra's own `completion bash|zsh|fish|powershell`,
// whose help says how to load each script, with the usage errors of the
// other commands: an unknown shell or an extra argument exits 3.
func addCompletionCmd(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Args = cobra.ArbitraryArgs
		c.RunE = groupRunE
		for _, shell := range c.Commands() {
			shell.Args = noArgs
		}
	}
}

// groupRunE is the RunE of commands that only hold subcommands: with no
// arguments it shows the help; anything else is an unknown command.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	hint := "run '" + cmd.CommandPath() + " --help' for the commands"
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		hint = "did you mean '" + cmd.CommandPath() + " " + s[0] + "'?"
	}
	return usageError(fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath()), hint)
}

// serverURL is --server, else $SLUICE_SERVER, else DefaultServer.
func (a *app) serverURL() string {
	return cmp.Or(a.server, a.getenv(EnvServer), DefaultServer)
}

// client returns an API client of the selected server, with the token
// credentials.go finds for it.
func (a *app) client() (*apiclient.Client, error) {
	url := a.serverURL()
	a.cred = a.findCredential(context.Background(), url)
	c, err := apiclient.New(url, apiclient.WithToken(a.cred.token), apiclient.WithUserAgent("sluice/"+version()))
	if err != nil {
		return nil, usageError(err.Error(), "set --server or $"+EnvServer+" to a URL such as "+DefaultServer)
	}
	return c, nil
}

// exitError carries an exit code and an optional hint line. A nil err
// means the command has already said everything it had to.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a bad command line: exit code 3.
func usageError(msg, hint string) error {
	return &exitError{code: ExitUsage, err: errors.New(msg), hint: hint}
}

// report prints err as "sluice: message" plus a hint, and returns the exit
// code.
func (a *app) report(ctx context.Context, err error) int {
	if err == nil {
		return ExitOK
	}
	code, hint := ExitFailed, ""
	var ee *exitError
	var apiErr *apiclient.Error
	var startErr *node.Error
	switch {
	case errors.As(err, &ee):
		code, hint = ee.code, ee.hint
		if ee.err == nil {
			return code
		}
	case errors.As(err, &startErr):
		hint = startErr.Hint
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		fmt.Fprintln(a.stderr, "sluice: interrupted")
		return ExitInterrupted
	case errors.As(err, &apiErr):
		hint = a.apiHint(apiErr)
	case unreachable(err):
		code = ExitUsage
		hint = fmt.Sprintf("is 'sluice serve' running at %s? Choose another server with --server or $%s.", a.serverURL(), EnvServer)
	}
	fmt.Fprintf(a.stderr, "sluice: %s\n", err)
	if hint != "" {
		fmt.Fprintf(a.stderr, "hint: %s\n", hint)
	}
	return code
}

// apiHint suggests what to do about some server errors.
func (a *app) apiHint(e *apiclient.Error) string {
	switch e.Status {
	case http.StatusUnauthorized:
		return a.credentialHint()
	case http.StatusForbidden:
		if e.Code == apitype.CodeForbidden {
			return "'sluice whoami' shows who you are and your roles"
		}
	}
	switch e.Code {
	case "unavailable":
		return "the server was started without an execution engine"
	case "internal":
		if e.RequestID != "" {
			return "this is a bug in Sluice or its setup; the server log has the details under request id " + e.RequestID
		}
	}
	return ""
}

// unreachable reports whether err means the server could not be reached
// at all, as opposed to answering with an error.
func unreachable(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, os.ErrDeadlineExceeded) || strings.Contains(err.Error(), "connection refused")
}
