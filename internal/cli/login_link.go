package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) newLoginLinkCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "login-link",
		Short: "Print a one-time link that signs a browser in to the console as the admin (admins)",
		Long: `Print a one-time link that opens a console session as the admin, as 'sluice serve'
prints one at start. It works once, for a short time; only admins may make one.
Treat it as a password: whoever opens it first is signed in.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.CreateLoginLink(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, c.BaseURL()+l.Path)
			fmt.Fprintf(a.stderr, "The link signs in once, until %s.\n", l.ExpiresAt.Local().Format(time.DateTime))
			return nil
		},
	}
}
