package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) newLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget the token saved by sluice login for the server",
		Long: `Forget the token 'sluice login' saved for the server (--server, $` + EnvServer + `).
The token itself stays valid until it expires or an admin revokes it
('sluice token revoke'): logout only removes it from this machine.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			url := a.serverURL()
			saved, err := a.loadCredentials()
			if err != nil {
				return fmt.Errorf("read saved credentials: %w", err)
			}
			if saved[serverKey(url)] == "" {
				fmt.Fprintf(a.stdout, "No token is saved for %s.\n", url)
				return nil
			}
			path, err := a.saveCredential(url, "")
			if err != nil {
				return fmt.Errorf("forget the token: %w", err)
			}
			fmt.Fprintf(a.stdout, "Forgot the token for %s (in %s). It stays valid until it expires or is revoked.\n", url, path)
			return nil
		},
	}
}
