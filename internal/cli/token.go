package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "token",
		Aliases: []string{"tokens"},
		Short:   "Create, list and revoke API tokens (admins)",
		Long: `Create, list and revoke API tokens. Only admins may.

A token acts as token:NAME with the roles it was given; sluice.yaml's auth section
grants rights per application to roles, users and tokens. CI systems and people
sign in with one (--token, $` + EnvToken + `, or sluice login). The server keeps only a
hash: a token's secret is shown once, when it is created.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	cmd.AddCommand(
		a.newTokenCreateCmd(),
		a.newTokenListCmd(),
		a.newTokenRevokeCmd(),
	)
	return cmd
}
