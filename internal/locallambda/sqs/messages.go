package sqs

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/sluice-cd/sluice/internal/awsid"
)

// MessageAttributeValue is a message attribute: DataType "String",
// "Number" or "Binary" (each optionally followed by ".custom-label"), and
// the value in StringValue or, for Binary, BinaryValue.
type MessageAttributeValue struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

// OutgoingMessage is a message to send.
type OutgoingMessage struct {
	Body       string
	Attributes map[string]MessageAttributeValue
	// TraceHeader is the AWSTraceHeader system attribute, if any.
	TraceHeader string
	// DelaySeconds delays the message (standard queues only); nil takes
	// the queue's DelaySeconds.
	DelaySeconds *int
	// GroupID and DeduplicationID are FIFO's MessageGroupId and
	// MessageDeduplicationId.
	GroupID         string
	DeduplicationID string
	// SenderID is the SenderId attribute; "" is the account ID.
	SenderID string
}

// SendResult is what SendMessage answers.
type SendResult struct {
	MessageID                    string
	MD5OfMessageBody             string
	MD5OfMessageAttributes       string
	MD5OfMessageSystemAttributes string
	SequenceNumber               string // FIFO only
}

// Message is a received message, with every system attribute.
type Message struct {
	MessageID              string
	ReceiptHandle          string
	Body                   string
	MD5OfBody              string
	MD5OfMessageAttributes string
	// Attributes are the system attributes: SenderId, SentTimestamp,
	// ApproximateReceiveCount, ApproximateFirstReceiveTimestamp and, as
	// they apply, SequenceNumber, MessageGroupId, MessageDeduplicationId,
	// AWSTraceHeader, DeadLetterQueueSourceArn.
	Attributes        map[string]string
	MessageAttributes map[string]MessageAttributeValue
}

// SendMessage sends body with attrs to the queue of queueARN and returns
// the message ID. A FIFO queue needs Send, with a GroupID.
func (s *Service) SendMessage(ctx context.Context, queueARN, body string, attrs map[string]MessageAttributeValue) (messageID string, err error) {
	r, err := s.Send(ctx, queueARN, OutgoingMessage{Body: body, Attributes: attrs})
	return r.MessageID, err
}

// Send sends m to the queue of queueARN. Once it returns without error
// the message is committed to the database.
func (s *Service) Send(ctx context.Context, queueARN string, m OutgoingMessage) (SendResult, error) {
	name, err := s.nameFromARN(queueARN)
	if err != nil {
		return SendResult{}, err
	}
	return s.sendOne(ctx, name, m)
}

// sendOne sends m to the queue name.
func (s *Service) sendOne(ctx context.Context, name string, m OutgoingMessage) (SendResult, error) {
	rs, err := s.send(ctx, name, []OutgoingMessage{m})
	if err != nil {
		return SendResult{}, err
	}
	if rs[0].err != nil {
		return SendResult{}, rs[0].err
	}
	return rs[0].SendResult, nil
}

// Receive receives up to max (1 to 10) messages from the queue of
// queueARN, hiding them for visibility (nil: the queue's
// VisibilityTimeout), waiting up to wait for the first one.
func (s *Service) Receive(ctx context.Context, queueARN string, max int, visibility *time.Duration, wait time.Duration) ([]Message, error) {
	name, err := s.nameFromARN(queueARN)
	if err != nil {
		return nil, err
	}
	var vis *int
	if visibility != nil {
		v := int(visibility.Seconds())
		vis = &v
	}
	return s.receive(ctx, name, max, vis, wait)
}

// Delete deletes the message of receiptHandle from the queue of queueARN.
func (s *Service) Delete(ctx context.Context, queueARN, receiptHandle string) error {
	name, err := s.nameFromARN(queueARN)
	if err != nil {
		return err
	}
	return s.deleteMessage(ctx, name, receiptHandle)
}

// ChangeVisibility makes the in-flight message of receiptHandle visible
// again after timeout (0: at once).
func (s *Service) ChangeVisibility(ctx context.Context, queueARN, receiptHandle string, timeout time.Duration) error {
	name, err := s.nameFromARN(queueARN)
	if err != nil {
		return err
	}
	return s.changeVisibility(ctx, name, receiptHandle, int(timeout.Seconds()))
}

// sendOutcome is one message's result in a batch.
type sendOutcome struct {
	SendResult
	err error
}

// checkMessage checks m against q as SendMessage does.
func checkMessage(q *queue, m *OutgoingMessage) error {
	if m.Body == "" {
		return missingParameter("MessageBody")
	}
	if !validChars(m.Body) {
		return newError("InvalidMessageContents", "InvalidMessageContents",
			"Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
	}
	if len(m.Attributes) > 10 {
		return invalidParameter("Number of message attributes [%d] exceeds the allowed maximum [10].", len(m.Attributes))
	}
	size := len(m.Body)
	for name, v := range m.Attributes {
		if !awsid.Name(name, 256, "_.-") || strings.HasPrefix(strings.ToLower(name), "aws.") || strings.HasPrefix(strings.ToLower(name), "amazon.") ||
			strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
			return invalidParameter("Message attribute name '%s' is invalid: use 1 to 256 of A-Z a-z 0-9 _ - ., not starting or ending with a period, without two periods in a row, and not starting with AWS. or Amazon.", name)
		}
		base, _, _ := strings.Cut(v.DataType, ".")
		switch base {
		case "String", "Number":
			if v.StringValue == "" {
				return invalidParameter("Message (user) attribute '%s' must contain a non-empty value of type '%s'.", name, v.DataType)
			}
			if base == "Number" {
				if _, err := strconv.ParseFloat(v.StringValue, 64); err != nil {
					return invalidParameter("Can't cast the value of message (user) attribute '%s' to a number.", name)
				}
			}
			if !validChars(v.StringValue) {
				return newError("InvalidMessageContents", "InvalidMessageContents", "Invalid characters found in the value of message attribute '%s'.", name)
			}
		case "Binary":
			if len(v.BinaryValue) == 0 {
				return invalidParameter("Message (user) attribute '%s' must contain a non-empty value of type 'Binary'.", name)
			}
		default:
			return invalidParameter("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
		size += len(name) + len(v.DataType) + len(v.StringValue) + len(v.BinaryValue)
	}
	if limit := q.intAttr("MaximumMessageSize"); size > limit {
		return invalidParameter("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", limit)
	}
	if m.DelaySeconds != nil {
		if *m.DelaySeconds < 0 || *m.DelaySeconds > 900 {
			return invalidValue(*m.DelaySeconds, "DelaySeconds", "Must be >= 0 and <= 900, if provided.")
		}
		if q.fifo() && *m.DelaySeconds != 0 {
			return invalidValue(*m.DelaySeconds, "DelaySeconds", "The request include parameter that is not valid for this queue type.")
		}
	}
	if q.fifo() {
		if m.GroupID == "" {
			return missingParameter("MessageGroupId")
		}
		if m.DeduplicationID == "" && q.attrs["ContentBasedDeduplication"] != "true" {
			return invalidParameter("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
	} else if m.DeduplicationID != "" {
		return invalidValue(m.DeduplicationID, "MessageDeduplicationId", "The request include parameter that is not valid for this queue type.")
	}
	for _, id := range []string{m.GroupID, m.DeduplicationID} {
		if len(id) > 128 {
			return invalidParameter("MessageGroupId and MessageDeduplicationId are at most 128 characters.")
		}
	}
	return nil
}

func validChars(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// dedupWindow is how long a FIFO queue remembers a deduplication ID.
const dedupWindow = 5 * time.Minute

// send sends ms to queue name in one transaction; each message has its
// own outcome. An error is the whole call's (no such queue).
func (s *Service) send(ctx context.Context, name string, ms []OutgoingMessage) ([]sendOutcome, error) {
	now := s.cfg.Clock()
	out := make([]sendOutcome, len(ms))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		q, err := s.loadQueue(ctx, tx, name)
		if err != nil {
			return err
		}
		if q.fifo() {
			if _, err := s.exec(ctx, tx, `DELETE FROM dedup WHERE queue = ? AND expires <= ?`, name, now.UnixMilli()); err != nil {
				return fmt.Errorf("expire deduplication IDs of %s: %w", name, err)
			}
		}
		for i := range ms {
			out[i].SendResult, out[i].err = s.insert(ctx, tx, q, &ms[i], now)
			if _, ok := out[i].err.(*Error); out[i].err != nil && !ok {
				return out[i].err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.notify(name)
	return out, nil
}

// insert adds one message to q in tx. An *Error is the message's; any
// other error the transaction's.
func (s *Service) insert(ctx context.Context, tx *sql.Tx, q *queue, m *OutgoingMessage, now time.Time) (SendResult, error) {
	if err := checkMessage(q, m); err != nil {
		return SendResult{}, err
	}
	r := SendResult{MessageID: uuid.NewString(), MD5OfMessageBody: md5Hex(m.Body), MD5OfMessageAttributes: md5OfAttributes(m.Attributes)}
	system := map[string]string{}
	if m.TraceHeader != "" {
		system["AWSTraceHeader"] = m.TraceHeader
		r.MD5OfMessageSystemAttributes = md5OfAttributes(map[string]MessageAttributeValue{"AWSTraceHeader": {DataType: "String", StringValue: m.TraceHeader}})
	}
	var dedupKey string
	if q.fifo() {
		dedup := m.DeduplicationID
		if dedup == "" {
			sum := sha256.Sum256([]byte(m.Body))
			dedup = hex.EncodeToString(sum[:])
		}
		m.DeduplicationID = dedup
		dedupKey = dedup
		if q.attrs["DeduplicationScope"] == "messageGroup" {
			dedupKey = m.GroupID + "\x00" + dedup
		}
		var id string
		var seq int64
		err := s.queryRow(ctx, tx, `SELECT id, seq FROM dedup WHERE queue = ? AND key = ?`, q.name, dedupKey).Scan(&id, &seq)
		if err == nil {
			r.MessageID, r.SequenceNumber = id, sequenceNumber(seq)
			return r, nil // a duplicate within the window: accepted, not enqueued again
		}
		if err != sql.ErrNoRows {
			return r, fmt.Errorf("look up deduplication ID: %w", err)
		}
	}
	delay := q.intAttr("DelaySeconds")
	if m.DelaySeconds != nil {
		delay = *m.DelaySeconds
	}
	attrs, sys := "", ""
	if len(m.Attributes) > 0 {
		b, _ := json.Marshal(m.Attributes)
		attrs = string(b)
	}
	if len(system) > 0 {
		b, _ := json.Marshal(system)
		sys = string(b)
	}
	res, err := s.exec(ctx, tx, `INSERT INTO messages (queue, id, body, attributes, system, md5_attrs, sender, sent, visible, group_id, dedup_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		q.name, r.MessageID, m.Body, attrs, sys, r.MD5OfMessageAttributes, cmpOr(m.SenderID, s.cfg.AccountID),
		now.UnixMilli(), now.Add(time.Duration(delay)*time.Second).UnixMilli(), m.GroupID, m.DeduplicationID)
	if err != nil {
		return r, fmt.Errorf("store a message in %s: %w", q.name, err)
	}
	if q.fifo() {
		seq, _ := res.LastInsertId()
		r.SequenceNumber = sequenceNumber(seq)
		if _, err := s.exec(ctx, tx, `INSERT INTO dedup (queue, key, id, seq, expires) VALUES (?, ?, ?, ?, ?)`,
			q.name, dedupKey, r.MessageID, seq, now.Add(dedupWindow).UnixMilli()); err != nil {
			return r, fmt.Errorf("record deduplication ID: %w", err)
		}
	}
	return r, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// sequenceNumber renders a FIFO SequenceNumber: AWS's are large decimal
// numbers that grow within a group.
func sequenceNumber(seq int64) string { return fmt.Sprintf("%020d", seq) }

// storedMessage is a message row.
type storedMessage struct {
	seq          int64
	id, body     string
	attrs        string
	system       string
	md5Attrs     string
	sender       string
	sent         int64
	receives     int
	firstReceive int64
	groupID      string
	dedupID      string
}

// receipt handles are base64url("queue/seq/token"): the token changes at
// every receive.
func receiptHandle(queue string, seq int64, token string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(queue + "/" + strconv.FormatInt(seq, 10) + "/" + token))
}

func parseReceiptHandle(h string) (queue string, seq int64, token string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", 0, "", false
	}
	parts := strings.Split(string(b), "/")
	if len(parts) != 3 {
		return "", 0, "", false
	}
	seq, err = strconv.ParseInt(parts[1], 10, 64)
	if err != nil || len(parts[2]) != 32 {
		return "", 0, "", false
	}
	return parts[0], seq, parts[2], true
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// receive receives up to max messages from queue name, waiting up to wait
// for the first; see Receive.
func (s *Service) receive(ctx context.Context, name string, max int, visibility *int, wait time.Duration) ([]Message, error) {
	if max < 1 || max > 10 {
		return nil, invalidValue(max, "MaxNumberOfMessages", "Must be between 1 and 10, if provided.")
	}
	if visibility != nil && (*visibility < 0 || *visibility > 43200) {
		return nil, invalidValue(*visibility, "VisibilityTimeout", "Must be >= 0 and <= 43200, if provided.")
	}
	deadline := s.cfg.Clock().Add(wait)
	for {
		woken := s.wait(name)
		msgs, next, moved, err := s.receiveOnce(ctx, name, max, visibility)
		for _, dlq := range moved {
			s.notify(dlq)
		}
		if err != nil || len(msgs) > 0 {
			return msgs, err
		}
		now := s.cfg.Clock()
		if !now.Before(deadline) {
			return nil, nil
		}
		until := deadline.Sub(now)
		if !next.IsZero() && next.Sub(now) < until {
			until = max0(next.Sub(now))
		}
		t := time.NewTimer(until)
		select {
		case <-woken:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-s.closed:
			t.Stop()
			return nil, nil
		}
		t.Stop()
	}
}

func max0(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return time.Millisecond
	}
	return d
}

// receiveOnce is one receive transaction: it drops expired messages,
// moves messages received maxReceiveCount times to the dead-letter queue,
// and takes up to max receivable ones, honouring FIFO group order. next is
// when a hidden message becomes receivable (zero: none is hidden); moved
// names the dead-letter queues that got messages.
func (s *Service) receiveOnce(ctx context.Context, name string, max int, visibility *int) (msgs []Message, next time.Time, moved []string, err error) {
	now := s.cfg.Clock()
	nowMs := now.UnixMilli()
	err = s.tx(ctx, func(tx *sql.Tx) error {
		q, err := s.loadQueue(ctx, tx, name)
		if err != nil {
			return err
		}
		retention := int64(q.intAttr("MessageRetentionPeriod")) * 1000
		if _, err := s.exec(ctx, tx, `DELETE FROM messages WHERE queue = ? AND sent < ?`, name, nowMs-retention); err != nil {
			return fmt.Errorf("expire messages of %s: %w", name, err)
		}
		vis := q.intAttr("VisibilityTimeout")
		if visibility != nil {
			vis = *visibility
		}
		dlq, maxReceives, redrive := q.redrive()
		if redrive {
			if _, err := s.loadQueue(ctx, tx, dlq); err != nil {
				redrive = false // the dead-letter queue is gone: keep the messages
			}
		}
		blocked := map[string]bool{} // FIFO groups with a message in flight
		if q.fifo() {
			rows, err := s.query(ctx, tx, `SELECT DISTINCT group_id FROM messages WHERE queue = ? AND visible > ? AND receives > 0`, name, nowMs)
			if err != nil {
				return fmt.Errorf("find the groups in flight in %s: %w", name, err)
			}
			for rows.Next() {
				var g string
				if err := rows.Scan(&g); err != nil {
					rows.Close()
					return err
				}
				blocked[g] = true
			}
			rows.Close()
		}
		var after int64
		for len(msgs) < max {
			batch, err := s.candidates(ctx, tx, name, nowMs, after)
			if err != nil {
				return err
			}
			if len(batch) == 0 {
				break
			}
			for _, m := range batch {
				after = m.seq
				if len(msgs) == max {
					break
				}
				if q.fifo() && blocked[m.groupID] {
					continue
				}
				if redrive && m.receives >= maxReceives {
					if err := s.moveToDLQ(ctx, tx, q, dlq, m); err != nil {
						return err
					}
					if !slices.Contains(moved, dlq) {
						moved = append(moved, dlq)
					}
					continue
				}
				token := newToken()
				m.receives++
				if m.firstReceive == 0 {
					m.firstReceive = nowMs
				}
				if _, err := s.exec(ctx, tx, `UPDATE messages SET receives = ?, first_receive = ?, visible = ?, receipt = ? WHERE seq = ?`,
					m.receives, m.firstReceive, nowMs+int64(vis)*1000, token, m.seq); err != nil {
					return fmt.Errorf("receive a message of %s: %w", name, err)
				}
				msgs = append(msgs, s.render(q, m, receiptHandle(name, m.seq, token)))
			}
		}
		var nextMs sql.NullInt64
		if err := s.queryRow(ctx, tx, `SELECT min(visible) FROM messages WHERE queue = ? AND visible > ?`, name, nowMs).Scan(&nextMs); err != nil {
			return fmt.Errorf("find the next message of %s: %w", name, err)
		}
		if nextMs.Valid {
			next = time.UnixMilli(nextMs.Int64)
		}
		return nil
	})
	return msgs, next, moved, err
}

// candidates are up to 100 receivable messages of queue after seq.
func (s *Service) candidates(ctx context.Context, tx *sql.Tx, queue string, nowMs, after int64) ([]*storedMessage, error) {
	rows, err := s.query(ctx, tx, `SELECT seq, id, body, attributes, system, md5_attrs, sender, sent, receives, first_receive, group_id, dedup_id
		FROM messages WHERE queue = ? AND visible <= ? AND seq > ? ORDER BY seq LIMIT 100`, queue, nowMs, after)
	if err != nil {
		return nil, fmt.Errorf("read messages of %s: %w", queue, err)
	}
	defer rows.Close()
	var out []*storedMessage
	for rows.Next() {
		m := &storedMessage{}
		if err := rows.Scan(&m.seq, &m.id, &m.body, &m.attrs, &m.system, &m.md5Attrs, &m.sender, &m.sent, &m.receives, &m.firstReceive, &m.groupID, &m.dedupID); err != nil {
			return nil, fmt.Errorf("read messages of %s: %w", queue, err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// moveToDLQ moves m from q to its dead-letter queue, keeping its ID,
// body, attributes and sent time, and recording where it came from.
func (s *Service) moveToDLQ(ctx context.Context, tx *sql.Tx, q *queue, dlq string, m *storedMessage) error {
	system := map[string]string{}
	if m.system != "" {
		_ = json.Unmarshal([]byte(m.system), &system)
	}
	system["DeadLetterQueueSourceArn"] = s.ARN(q.name)
	sys, _ := json.Marshal(system)
	if _, err := s.exec(ctx, tx, `UPDATE messages SET queue = ?, system = ?, receives = 0, first_receive = 0, receipt = '', visible = ? WHERE seq = ?`,
		dlq, string(sys), s.cfg.Clock().UnixMilli(), m.seq); err != nil {
		return fmt.Errorf("move a message of %s to its dead-letter queue %s: %w", q.name, dlq, err)
	}
	s.log.Info("local sqs: message moved to the dead-letter queue", "queue", q.name, "dlq", dlq, "id", m.id, "receives", m.receives)
	return nil
}

// render turns a row into a Message with all its attributes.
func (s *Service) render(q *queue, m *storedMessage, handle string) Message {
	out := Message{MessageID: m.id, ReceiptHandle: handle, Body: m.body, MD5OfBody: md5Hex(m.body), MD5OfMessageAttributes: m.md5Attrs,
		Attributes: map[string]string{
			"SenderId":                         m.sender,
			"SentTimestamp":                    strconv.FormatInt(m.sent, 10),
			"ApproximateReceiveCount":          strconv.Itoa(m.receives),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive, 10),
		}}
	if m.attrs != "" {
		_ = json.Unmarshal([]byte(m.attrs), &out.MessageAttributes)
	}
	if m.system != "" {
		var sys map[string]string
		_ = json.Unmarshal([]byte(m.system), &sys)
		maps.Copy(out.Attributes, sys)
	}
	if q.fifo() {
		out.Attributes["SequenceNumber"] = sequenceNumber(m.seq)
		out.Attributes["MessageGroupId"] = m.groupID
		out.Attributes["MessageDeduplicationId"] = m.dedupID
	} else if m.groupID != "" {
		out.Attributes["MessageGroupId"] = m.groupID
	}
	return out
}

// deleteMessage deletes the message of handle from queue name. A handle
// of an earlier receive of a message received again since is accepted
// and deletes nothing, as AWS documents ("the message might not be
// deleted"); a message already deleted is no error.
func (s *Service) deleteMessage(ctx context.Context, name, handle string) error {
	q, seq, token, ok := parseReceiptHandle(handle)
	if !ok || q != name {
		return receiptHandleInvalid(handle)
	}
	var fifo bool
	err := s.tx(ctx, func(tx *sql.Tx) error {
		qu, err := s.loadQueue(ctx, tx, name)
		if err != nil {
			return err
		}
		fifo = qu.fifo()
		_, err = s.exec(ctx, tx, `DELETE FROM messages WHERE seq = ? AND queue = ? AND receipt = ?`, seq, name, token)
		if err != nil {
			return fmt.Errorf("delete a message of %s: %w", name, err)
		}
		return nil
	})
	if err == nil && fifo {
		s.notify(name) // its group may be free now
	}
	return err
}

// changeVisibility sets when the in-flight message of handle becomes
// receivable again.
func (s *Service) changeVisibility(ctx context.Context, name, handle string, timeout int) error {
	if timeout < 0 || timeout > 43200 {
		return invalidValue(timeout, "VisibilityTimeout", "Must be >= 0 and <= 43200.")
	}
	q, seq, token, ok := parseReceiptHandle(handle)
	if !ok || q != name {
		return receiptHandleInvalid(handle)
	}
	now := s.cfg.Clock().UnixMilli()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := s.loadQueue(ctx, tx, name); err != nil {
			return err
		}
		res, err := s.exec(ctx, tx, `UPDATE messages SET visible = ? WHERE seq = ? AND queue = ? AND receipt = ? AND visible > ?`,
			now+int64(timeout)*1000, seq, name, token, now)
		if err != nil {
			return fmt.Errorf("change the visibility of a message of %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return messageNotInflight()
		}
		return nil
	})
	if err == nil {
		s.notify(name)
	}
	return err
}

// deleteMany deletes the messages of handles from the queue of queueARN
// in one transaction, as deleteMessage does each.
func (s *Service) deleteMany(ctx context.Context, queueARN string, handles []string) error {
	if len(handles) == 0 {
		return nil
	}
	name, err := s.nameFromARN(queueARN)
	if err != nil {
		return err
	}
	var fifo bool
	err = s.tx(ctx, func(tx *sql.Tx) error {
		qu, err := s.loadQueue(ctx, tx, name)
		if err != nil {
			return err
		}
		fifo = qu.fifo()
		for _, h := range handles {
			q, seq, token, ok := parseReceiptHandle(h)
			if !ok || q != name {
				return receiptHandleInvalid(h)
			}
			if _, err := s.exec(ctx, tx, `DELETE FROM messages WHERE seq = ? AND queue = ? AND receipt = ?`, seq, name, token); err != nil {
				return fmt.Errorf("delete a message of %s: %w", name, err)
			}
		}
		return nil
	})
	if err == nil && fifo {
		s.notify(name)
	}
	return err
}
