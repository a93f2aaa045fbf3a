package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"
)

// timeDest scans a time column of either dialect: time.Time from Postgres,
// text in sqliteTimeLayout from SQLite.
type timeDest struct{ t *time.Time }

func (d *timeDest) Scan(src any) error {
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("scan time: unexpected NULL")
	}
	*d.t = *t
	return nil
}

// nullTimeDest scans a nullable time column; NULL sets *t to nil.
type nullTimeDest struct{ t **time.Time }

func (d *nullTimeDest) Scan(src any) error {
	t, err := parseTime(src)
	if err != nil {
		return err
	}
	*d.t = t
	return nil
}

func parseTime(src any) (*time.Time, error) {
	var s string
	switch v := src.(type) {
	case nil:
		return nil, nil
	case time.Time:
		t := v.UTC()
		return &t, nil
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return nil, fmt.Errorf("scan time: unsupported type %T", src)
	}
	t, err := time.Parse(sqliteTimeLayout, s)
	if err != nil {
		// Written by something other than the store; accept any RFC 3339.
		t, err = time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, fmt.Errorf("scan time: %w", err)
		}
	}
	t = t.UTC()
	return &t, nil
}

// jsonDest scans a nullable JSON column; NULL sets *raw to nil.
type jsonDest struct{ raw *json.RawMessage }

func (d *jsonDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.raw = nil
	case string:
		*d.raw = json.RawMessage(v)
	case []byte:
		*d.raw = append(json.RawMessage(nil), v...)
	default:
		return fmt.Errorf("scan JSON: unsupported type %T", src)
	}
	return nil
}

func scanTime(t *time.Time) *timeDest          { return &timeDest{t} }
func scanNullTime(t **time.Time) *nullTimeDest { return &nullTimeDest{t} }
func scanJSON(raw *json.RawMessage) *jsonDest  { return &jsonDest{raw} }
