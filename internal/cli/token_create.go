package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluice-cd/sluice/internal/apitype"
)

func (a *app) newTokenCreateCmd() *cobra.Command {
	var (
		req apitype.TokenRequest
		out *outputFormat
	)
	cmd := &cobra.Command{
		Use:   "create NAME [--role ROLE]... [--expires-in DURATION]",
		Short: "Create an API token and print its secret, once",
		Long: `Create an API token named NAME, acting as token:NAME with the given roles, and
print its secret on standard output. The secret is shown this once: the server keeps
only its hash. Give it to whoever needs it (a CI system's secrets, 'sluice login').`,
		Example: `  sluice token create ci --role deployer --expires-in 720h
  SLUICE_TOKEN=$(sluice token create nightly --role viewer) some-script`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			if req.ExpiresIn != "" {
				if d, err := time.ParseDuration(req.ExpiresIn); err != nil || d <= 0 {
					return usageError(fmt.Sprintf("--expires-in %q is not a positive duration", req.ExpiresIn),
						"use hours, minutes or seconds, e.g. --expires-in 720h for 30 days")
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			t, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			if done, err := out.print(a.stdout, t); done {
				return err
			}
			// The secret alone on stdout, so that scripts can capture it;
			// what it is on stderr.
			fmt.Fprintln(a.stdout, t.Secret)
			expires := "does not expire"
			if t.ExpiresAt != nil {
				expires = "expires " + t.ExpiresAt.Local().Format(time.DateTime)
			}
			fmt.Fprintf(a.stderr, "Created token %s (id %s), acting as %s with %s; it %s.\n", t.Name, t.ID, t.Subject, rolesText(t.Roles), expires)
			fmt.Fprintln(a.stderr, "This is the only time its secret is shown: it cannot be shown again. Keep it now.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&req.Roles, "role", nil, "a role of the token (repeatable); the role admin may do everything")
	f.StringVar(&req.ExpiresIn, "expires-in", "", "how long the token is valid, e.g. 720h (default: until revoked)")
	out = addOutputFlag(cmd)
	f.Lookup("output").Usage += " (table: the secret alone)"
	return cmd
}
