package cli

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) newTokenListCmd() *cobra.Command {
	var out *outputFormat
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the API tokens in force (not their secrets)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			if done, err := out.print(a.stdout, l.Tokens); done {
				return err
			}
			if len(l.Tokens) == 0 {
				fmt.Fprintln(a.stderr, "no tokens")
				return nil
			}
			tw := newTable(a.stdout)
			fmt.Fprintln(tw, "ID\tNAME\tACTS AS\tROLES\tCREATED\tBY\tEXPIRES")
			for _, t := range l.Tokens {
				expires := "never"
				if t.ExpiresAt != nil {
					expires = t.ExpiresAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Subject, cmp.Or(strings.Join(t.Roles, ","), "-"),
					t.CreatedAt.Local().Format(time.DateTime), t.CreatedBy, expires)
			}
			return tw.Flush()
		},
	}
	out = addOutputFlag(cmd)
	return cmd
}
