package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sluice-cd/sluice/internal/store"
)

const credentialColumns = `id, kind, name, secret_hash, subject, parent_id, roles, created_by, created_at, expires_at, revoked_at`

func scanCredential(row Row) (*store.Credential, error) {
	var (
		c     store.Credential
		roles json.RawMessage
	)
	if err := row.Scan(&c.ID, &c.Kind, &c.Name, &c.SecretHash, &c.Subject, &c.ParentID, scanJSON(&roles), &c.CreatedBy,
		scanTime(&c.CreatedAt), scanNullTime(&c.ExpiresAt), scanNullTime(&c.RevokedAt)); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(roles, &c.Roles); err != nil {
		return nil, fmt.Errorf("credential %s: roles: %w", c.ID, err)
	}
	return &c, nil
}

// CredentialInsert implements store.Querier.
func (q *querier) CredentialInsert(ctx context.Context, c *store.Credential) error {
	if c.ID == "" {
		c.ID = newID()
	}
	if c.Roles == nil {
		c.Roles = []string{}
	}
	roles, err := json.Marshal(c.Roles)
	if err != nil {
		return fmt.Errorf("insert credential %s: %w", c.ID, err)
	}
	c.CreatedAt = q.stamp(c.CreatedAt)
	c.ExpiresAt = normNullTime(c.ExpiresAt)
	_, err = q.exec(ctx, `INSERT INTO credential (`+credentialColumns+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`, c.ID, string(c.Kind), c.Name, c.SecretHash, c.Subject, c.ParentID, string(roles),
		c.CreatedBy, q.d.time(c.CreatedAt), q.d.nullTime(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert %s %q: %w", c.Kind, c.Name, err)
	}
	return nil
}

// inForce is the condition of a credential neither revoked nor expired at
// the query's last argument.
const inForce = `revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`

// CredentialFind implements store.Querier.
func (q *querier) CredentialFind(ctx context.Context, kind store.CredentialKind, secretHash string, now time.Time) (*store.Credential, error) {
	q = q.reader()
	c, err := scanCredential(q.queryRow(ctx, `SELECT `+credentialColumns+` FROM credential
WHERE kind = ? AND secret_hash = ? AND `+inForce, string(kind), secretHash, q.d.time(normTime(now))))
	if err != nil {
		return nil, notFound(err, "find", string(kind))
	}
	return c, nil
}

// CredentialTake implements store.Querier.
func (q *querier) CredentialTake(ctx context.Context, kind store.CredentialKind, secretHash string, now time.Time) (*store.Credential, error) {
	at := q.d.time(normTime(now))
	c, err := scanCredential(q.queryRow(ctx, `UPDATE credential SET revoked_at = ?
WHERE kind = ? AND secret_hash = ? AND `+inForce+`
RETURNING `+credentialColumns, at, string(kind), secretHash, at))
	if err != nil {
		return nil, notFound(err, "take", string(kind))
	}
	return c, nil
}

// CredentialList implements store.Querier.
func (q *querier) CredentialList(ctx context.Context, kind store.CredentialKind, now time.Time) ([]*store.Credential, error) {
	q = q.reader()
	out := []*store.Credential{}
	err := q.query(ctx, `SELECT `+credentialColumns+` FROM credential WHERE kind = ? AND `+inForce+`
ORDER BY created_at, id`, []any{string(kind), q.d.time(normTime(now))}, func(r Row) error {
		c, err := scanCredential(r)
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", kind, err)
	}
	return out, nil
}

// CredentialRevoke implements store.Querier.
func (q *querier) CredentialRevoke(ctx context.Context, kind store.CredentialKind, id string, now time.Time) (*store.Credential, error) {
	at := q.d.time(normTime(now))
	var c *store.Credential
	err := q.atomic(ctx, false, func(q *querier) error {
		var err error
		c, err = scanCredential(q.queryRow(ctx, `UPDATE credential SET revoked_at = ?
WHERE kind = ? AND id = ? AND `+inForce+`
RETURNING `+credentialColumns, at, string(kind), id, at))
		if err != nil {
			return notFound(err, "revoke", string(kind)+" "+id)
		}
		_, err = q.exec(ctx, `UPDATE credential SET revoked_at = ? WHERE parent_id = ? AND revoked_at IS NULL`, at, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// CredentialPurge implements store.Querier.
func (q *querier) CredentialPurge(ctx context.Context, cutoff time.Time) (int64, error) {
	at := q.d.time(normTime(cutoff))
	n, err := q.exec(ctx, `DELETE FROM credential WHERE revoked_at < ? OR expires_at < ?`, at, at)
	if err != nil {
		return 0, fmt.Errorf("purge credentials: %w", err)
	}
	return n, nil
}
