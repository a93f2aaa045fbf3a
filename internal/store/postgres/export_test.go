package postgres

import "github.com/jackc/pgx/v5"

// WithTracer traces the statements of the pool's connections.
func WithTracer(t pgx.QueryTracer) Option {
	return func(o *options) { o.tracer = t }
}
