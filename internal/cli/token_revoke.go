package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newTokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID|NAME",
		Short: "Revoke an API token: the server refuses it from now on",
		Long: `Revoke an API token, named by its ID or its name ('sluice token list' shows both).
Every request with it is refused from then on, and so are the console sessions it
opened.`,
		Args: exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			id := args[0]
			l, err := c.ListTokens(cmd.Context())
			if err != nil {
				return err
			}
			for _, t := range l.Tokens {
				if t.Name == id {
					id = t.ID
				}
			}
			t, err := c.RevokeToken(cmd.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "token %s (id %s) revoked\n", t.Name, t.ID)
			return nil
		},
	}
}
