package cli

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) newTokenListCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the API tokens in force (not their secrets)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, formatTable, formatJSON); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			l, err := c.ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			if format == formatJSON {
				return printJSON(a.stdout, l.Tokens)
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
	cmd.Flags().StringVarP(&format, "output", "o", formatTable, "output format: table or json")
	return cmd
}
