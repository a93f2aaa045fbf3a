//go:build !linux

package cli

// listenerIsMine cannot tell who owns a socket outside Linux; the CLI then
// relies on the checks of the file itself (readAdminToken). See
// docs/security.md.
func listenerIsMine(port int) bool { return true }
