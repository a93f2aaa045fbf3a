// Package e2e holds tests that run the sluice binary as a user would — as
// child processes killed and restarted — against its real parts. It has
// no non-test code.
package e2e
