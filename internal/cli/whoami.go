package cli

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) newWhoamiCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the server takes you for, and which credential says so",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			s, err := c.Session(cmd.Context())
			if err != nil {
				return err
			}
			if done, err := out.print(a.stdout, s); done {
				return err
			}
			admin := "no"
			if s.Admin {
				admin = "yes: may do everything"
			}
			tw := newTable(a.stdout)
			fmt.Fprintf(tw, "name\t%s\n", s.Name)
			fmt.Fprintf(tw, "roles\t%s\n", cmp.Or(strings.Join(s.Roles, ", "), "-"))
			fmt.Fprintf(tw, "admin\t%s\n", admin)
			fmt.Fprintf(tw, "server\t%s\n", c.BaseURL())
			fmt.Fprintf(tw, "credential\t%s\n", a.cred.source)
			return tw.Flush()
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}
