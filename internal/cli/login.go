package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/sluice-cd/sluice/internal/apiclient"
)

// maxTokenInput bounds what login reads from standard input: a token is
// well under a hundred bytes, and a mistaken pipe must not fill memory.
const maxTokenInput = 4096

func (a *app) newLoginCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "login",
		Short: "Check an API token with the server and save it for later commands",
		Long: `Check an API token with the server and save it, so that later commands to the
same server (--server, $` + EnvServer + `) send it without being told.

The token comes from --token, else $` + EnvToken + `, else standard input: pasted at a
prompt that does not show it, or piped (sluice login < token.txt). An admin makes
tokens with 'sluice token create'. It is saved in $XDG_CONFIG_HOME/sluice/credentials.json
(default ~/.config/sluice/credentials.json), readable by you alone; 'sluice logout'
forgets it.

On the server's own machine, as the user that runs it, no login is needed: the CLI
reads the server's admin token by itself.`,
		Example: `  sluice login --server https://sluice.example.com
  sluice login --server https://sluice.example.com < token.txt`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			token, err := a.loginToken()
			if err != nil {
				return err
			}
			url := a.serverURL()
			c, err := apiclient.New(url, apiclient.WithToken(token), apiclient.WithUserAgent("sluice/"+version()))
			if err != nil {
				return usageError(err.Error(), "set --server or $"+EnvServer+" to a URL such as "+DefaultServer)
			}
			s, err := c.Session(cmd.Context())
			var apiErr *apiclient.Error
			if errors.As(err, &apiErr) && apiErr.Status == 401 {
				return &exitError{code: ExitFailed, err: fmt.Errorf("the server at %s does not accept this token: %w", url, err),
					hint: "check that the token was copied whole and has not expired or been revoked ('sluice token list' shows those in force); an admin makes a new one with 'sluice token create NAME'"}
			}
			if err != nil {
				return err
			}
			path, err := a.saveCredential(url, token)
			if err != nil {
				return fmt.Errorf("save the token: %w", err)
			}
			fmt.Fprintf(a.stdout, "Logged in to %s as %s (%s).\n", url, s.Name, rolesText(s.Roles))
			fmt.Fprintf(a.stdout, "The token is saved in %s; 'sluice logout' forgets it.\n", path)
			return nil
		},
	}
}

// loginToken is the token to log in with: --token, $SLUICE_TOKEN or
// standard input, never echoed.
func (a *app) loginToken() (string, error) {
	if a.token != "" {
		return strings.TrimSpace(a.token), nil
	}
	if t := strings.TrimSpace(a.getenv(EnvToken)); t != "" {
		return t, nil
	}
	var line string
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(a.stderr, "API token for %s (not shown as you type or paste): ", a.serverURL())
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		if err != nil {
			return "", fmt.Errorf("read the token from the terminal: %w", err)
		}
		line = string(b)
	} else if a.stdin != nil {
		var err error
		line, err = bufio.NewReader(io.LimitReader(a.stdin, maxTokenInput)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the token from standard input: %w", err)
		}
	}
	if line = strings.TrimSpace(line); line == "" {
		return "", usageError("login: no token given",
			"pass --token, set $"+EnvToken+", or paste it on standard input; an admin makes one with 'sluice token create NAME'")
	}
	return line, nil
}

// rolesText lists roles for a person: "roles: a, b" or "no roles".
func rolesText(roles []string) string {
	if len(roles) == 0 {
		return "no roles"
	}
	return "roles: " + strings.Join(roles, ", ")
}
