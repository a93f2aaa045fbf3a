// Package importrules holds one test, which keeps the package map of
// docs/architecture.md true: which internal packages may import which, and
// who may touch the database drivers. It has no code of its own.
package importrules
