package sqs

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/sluice-cd/sluice/internal/awsid"
)

// maxRequestBody bounds a request body: a batch of ten messages of at
// most 1 MiB together, base64-encoded binary attributes included.
const maxRequestBody = 4 << 20

// request is one API call, decoded from either protocol into the JSON
// protocol's shape.
type request struct {
	op     string
	body   []byte // the JSON protocol's request object
	host   string // for queue URLs
	sender string // the SigV4 access key, as SenderId
	ctx    context.Context
}

func (r *request) decode(v any) error {
	if len(bytes.TrimSpace(r.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return newError("SerializationException", "MalformedInput", "The request body of %s is not valid: %v", r.op, err)
	}
	return nil
}

// num is an integer parameter: a JSON number, or the query protocol's
// decimal string.
type num int

func (n *num) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.Atoi(s)
	if err != nil {
		return invalidParameter("Value %s is not a valid integer.", string(b))
	}
	*n = num(v)
	return nil
}

func intp(n *num) *int {
	if n == nil {
		return nil
	}
	v := int(*n)
	return &v
}

type operation func(s *Service, r *request) (any, error)

var operations = map[string]operation{
	"CreateQueue":                  (*Service).opCreateQueue,
	"GetQueueUrl":                  (*Service).opGetQueueURL,
	"ListQueues":                   (*Service).opListQueues,
	"GetQueueAttributes":           (*Service).opGetQueueAttributes,
	"SetQueueAttributes":           (*Service).opSetQueueAttributes,
	"DeleteQueue":                  (*Service).opDeleteQueue,
	"PurgeQueue":                   (*Service).opPurgeQueue,
	"TagQueue":                     (*Service).opTagQueue,
	"UntagQueue":                   (*Service).opUntagQueue,
	"ListQueueTags":                (*Service).opListQueueTags,
	"SendMessage":                  (*Service).opSendMessage,
	"SendMessageBatch":             (*Service).opSendMessageBatch,
	"ReceiveMessage":               (*Service).opReceiveMessage,
	"DeleteMessage":                (*Service).opDeleteMessage,
	"DeleteMessageBatch":           (*Service).opDeleteMessageBatch,
	"ChangeMessageVisibility":      (*Service).opChangeMessageVisibility,
	"ChangeMessageVisibilityBatch": (*Service).opChangeMessageVisibilityBatch,
	"ListDeadLetterSourceQueues":   (*Service).opListDeadLetterSourceQueues,
}

// unsupported are SQS operations the local SQS does not model; they are
// refused with a message that says so.
var unsupported = map[string]bool{
	"AddPermission": true, "RemovePermission": true, "StartMessageMoveTask": true,
	"CancelMessageMoveTask": true, "ListMessageMoveTasks": true,
}

// Handler serves the SQS API, both protocols: JSON (X-Amz-Target:
// AmazonSQS.<Op>, what aws-sdk-go-v2 and current SDKs send) and query
// (Action=<Op>, form-encoded, XML answers: the AWS CLI v2 of Debian 12
// and older SDKs). The caller has checked the request's signature.
func (s *Service) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	jsonProto := strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	req := &request{host: r.Host, sender: accessKey(r), ctx: r.Context()}
	requestID := uuid.NewString()
	fail := func(err error) {
		e := asError(err)
		if e.Status >= 500 {
			s.log.Error("local sqs: request failed", "op", req.op, "err", e.Message)
		}
		writeError(w, jsonProto, requestID, e)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil {
		fail(newError("IncompleteBody", "IncompleteBody", "The request body could not be read: %v", err))
		return
	}
	if len(body) > maxRequestBody {
		fail(newError("RequestTooLong", "RequestTooLong", "The request body is larger than %d bytes.", maxRequestBody))
		return
	}
	if jsonProto {
		req.op = strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
		req.body = body
	} else {
		form, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			fail(newError("MalformedQueryString", "MalformedQueryString", "The query string is malformed: %v", err))
			return
		}
		if r.Method == http.MethodPost {
			bf, err := url.ParseQuery(string(body))
			if err != nil {
				fail(newError("MalformedQueryString", "MalformedQueryString", "The form body is malformed: %v", err))
				return
			}
			maps.Copy(form, bf)
		}
		req.op = form.Get("Action")
		if req.op == "" {
			fail(newError("MissingAction", "MissingAction", "The request must contain the parameter Action (query protocol) or the header X-Amz-Target: AmazonSQS.<Operation> (JSON protocol)."))
			return
		}
		req.body, err = queryToJSON(req.op, form)
		if err != nil {
			fail(err)
			return
		}
	}
	op := operations[req.op]
	if op == nil {
		if unsupported[req.op] {
			fail(newError("UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "The local SQS does not support %s.", req.op))
			return
		}
		fail(newError("InvalidAction", "InvalidAction", "The action %s is not valid for this endpoint.", req.op))
		return
	}
	resp, err := op(s, req)
	if err != nil {
		fail(err)
		return
	}
	if jsonProto {
		b, _ := json.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-RequestId", requestID)
		_, _ = w.Write(b)
		return
	}
	writeXMLResponse(w, req.op, requestID, resp)
}

// accessKey is the access key of the request's SigV4 credential scope.
func accessKey(r *http.Request) string {
	_, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	if !ok {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

// WriteRefusal answers a request the endpoint refuses (unsigned, a
// browser's, a bad signature) as SQS does in the request's protocol.
func WriteRefusal(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	jsonProto := strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	writeError(w, jsonProto, uuid.NewString(), &Error{Status: status, Type: code, Code: code, Message: message})
}

func writeError(w http.ResponseWriter, jsonProto bool, requestID string, e *Error) {
	fault := "Sender"
	if e.Server {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-RequestId", requestID)
	if jsonProto {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Query-Error", e.Code+";"+fault)
		b, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#" + e.Type, "message": e.Message})
		w.WriteHeader(e.Status)
		_, _ = w.Write(b)
		return
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><ErrorResponse xmlns="` + xmlns + `"><Error><Type>` + fault + `</Type><Code>`)
	xmlEscape(&b, e.Code)
	b.WriteString(`</Code><Message>`)
	xmlEscape(&b, e.Message)
	b.WriteString(`</Message><Detail/></Error><RequestId>` + requestID + `</RequestId></ErrorResponse>`)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	_, _ = w.Write(b.Bytes())
}

// queueName resolves a QueueUrl (http://host/ACCOUNT/NAME) to its name.
// Any host is taken, so a URL made for localhost works on 127.0.0.1.
func (s *Service) queueName(u string) (string, error) {
	if u == "" {
		return "", missingParameter("QueueUrl")
	}
	pu, err := url.Parse(u)
	if err != nil {
		return "", newError("InvalidAddress", "InvalidAddress", "The address %s is not valid for this endpoint.", u)
	}
	parts := strings.Split(strings.Trim(pu.Path, "/"), "/")
	if len(parts) != 2 || parts[1] == "" {
		return "", newError("InvalidAddress", "InvalidAddress", "The address %s is not valid for this endpoint: a queue URL is http://HOST/ACCOUNT/NAME.", u)
	}
	if parts[0] != s.cfg.AccountID {
		return "", queueDoesNotExist()
	}
	return parts[1], nil
}

type queueURLRequest struct {
	QueueURL string `json:"QueueUrl"`
}

// decodeQueue decodes the request into in, then resolves the queue that
// queueURL, in's QueueUrl field, names.
func (s *Service) decodeQueue(r *request, in any, queueURL *string) (string, error) {
	if err := r.decode(in); err != nil {
		return "", err
	}
	return s.queueName(*queueURL)
}

type queueURLResponse struct {
	QueueURL string `json:"QueueUrl"`
}

type empty struct{}

func (s *Service) opCreateQueue(r *request) (any, error) {
	var in struct {
		QueueName  string            `json:"QueueName"`
		Attributes map[string]string `json:"Attributes"`
		Tags       map[string]string `json:"tags"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if err := s.createQueue(r.ctx, in.QueueName, in.Attributes, in.Tags); err != nil {
		return nil, err
	}
	return queueURLResponse{s.QueueURL(r.host, in.QueueName)}, nil
}

func (s *Service) opGetQueueURL(r *request) (any, error) {
	var in struct {
		QueueName string `json:"QueueName"`
		Owner     string `json:"QueueOwnerAWSAccountId"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, missingParameter("QueueName")
	}
	if in.Owner != "" && in.Owner != s.cfg.AccountID {
		return nil, queueDoesNotExist()
	}
	if ok, err := s.QueueExists(r.ctx, s.ARN(in.QueueName)); err != nil || !ok {
		return nil, cmpErr(err, queueDoesNotExist())
	}
	return queueURLResponse{s.QueueURL(r.host, in.QueueName)}, nil
}

func cmpErr(err error, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func (s *Service) opListQueues(r *request) (any, error) {
	var in struct {
		Prefix     string `json:"QueueNamePrefix"`
		MaxResults *num   `json:"MaxResults"`
		NextToken  string `json:"NextToken"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	max := 1000
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 1000 {
			return nil, invalidValue(*in.MaxResults, "MaxResults", "Must be between 1 and 1000.")
		}
		max = int(*in.MaxResults)
	}
	names, err := s.listQueues(r.ctx, in.Prefix)
	if err != nil {
		return nil, err
	}
	if in.NextToken != "" {
		after, err := base64.RawURLEncoding.DecodeString(in.NextToken)
		if err != nil {
			return nil, invalidParameter("Invalid NextToken %q.", in.NextToken)
		}
		i, _ := slices.BinarySearch(names, string(after)+"\x00")
		names = names[i:]
	}
	out := struct {
		QueueUrls []string `json:"QueueUrls,omitempty"`
		NextToken string   `json:"NextToken,omitempty"`
	}{}
	if len(names) > max {
		names = names[:max]
		if in.MaxResults != nil {
			out.NextToken = base64.RawURLEncoding.EncodeToString([]byte(names[max-1]))
		}
	}
	for _, n := range names {
		out.QueueUrls = append(out.QueueUrls, s.QueueURL(r.host, n))
	}
	return out, nil
}

func (s *Service) opGetQueueAttributes(r *request) (any, error) {
	var in struct {
		QueueURL       string   `json:"QueueUrl"`
		AttributeNames []string `json:"AttributeNames"`
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	attrs, err := s.queueAttributes(r.ctx, name, in.AttributeNames)
	if err != nil {
		return nil, err
	}
	out := struct {
		Attributes map[string]string `json:"Attributes,omitempty"`
	}{attrs}
	return out, nil
}

func (s *Service) opSetQueueAttributes(r *request) (any, error) {
	var in struct {
		QueueURL   string            `json:"QueueUrl"`
		Attributes map[string]string `json:"Attributes"`
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	if in.Attributes == nil {
		return nil, missingParameter("Attributes")
	}
	return empty{}, s.setQueueAttributes(r.ctx, name, in.Attributes)
}

func (s *Service) opDeleteQueue(r *request) (any, error) {
	var in queueURLRequest
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	return empty{}, s.deleteQueue(r.ctx, name)
}

func (s *Service) opPurgeQueue(r *request) (any, error) {
	var in queueURLRequest
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	return empty{}, s.purgeQueue(r.ctx, name)
}

func (s *Service) opTagQueue(r *request) (any, error) {
	var in struct {
		QueueURL string            `json:"QueueUrl"`
		Tags     map[string]string `json:"Tags"`
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, missingParameter("Tags")
	}
	return empty{}, s.tagQueue(r.ctx, name, in.Tags, nil)
}

func (s *Service) opUntagQueue(r *request) (any, error) {
	var in struct {
		QueueURL string   `json:"QueueUrl"`
		TagKeys  []string `json:"TagKeys"`
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	if len(in.TagKeys) == 0 {
		return nil, missingParameter("TagKeys")
	}
	return empty{}, s.tagQueue(r.ctx, name, nil, in.TagKeys)
}

func (s *Service) opListQueueTags(r *request) (any, error) {
	var in queueURLRequest
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	tags, err := s.queueTags(r.ctx, name)
	if err != nil {
		return nil, err
	}
	return struct {
		Tags map[string]string `json:"Tags,omitempty"`
	}{tags}, nil
}

func (s *Service) opListDeadLetterSourceQueues(r *request) (any, error) {
	var in queueURLRequest
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	if ok, err := s.QueueExists(r.ctx, s.ARN(name)); err != nil || !ok {
		return nil, cmpErr(err, queueDoesNotExist())
	}
	names, err := s.listQueues(r.ctx, "")
	if err != nil {
		return nil, err
	}
	out := struct {
		QueueUrls []string `json:"queueUrls"`
	}{QueueUrls: []string{}}
	for _, n := range names {
		attrs, err := s.queueAttributes(r.ctx, n, []string{"RedrivePolicy"})
		if err != nil {
			continue
		}
		if p, _ := parseRedrivePolicy(attrs["RedrivePolicy"]); p != nil && p.name == name {
			out.QueueUrls = append(out.QueueUrls, s.QueueURL(r.host, n))
		}
	}
	return out, nil
}

// sendEntry is SendMessage's input and a SendMessageBatch entry.
type sendEntry struct {
	ID                      string                           `json:"Id"`
	MessageBody             *string                          `json:"MessageBody"`
	DelaySeconds            *num                             `json:"DelaySeconds"`
	MessageAttributes       map[string]MessageAttributeValue `json:"MessageAttributes"`
	MessageSystemAttributes map[string]MessageAttributeValue `json:"MessageSystemAttributes"`
	MessageDeduplicationID  string                           `json:"MessageDeduplicationId"`
	MessageGroupID          string                           `json:"MessageGroupId"`
}

func (e *sendEntry) outgoing(sender string) (OutgoingMessage, error) {
	m := OutgoingMessage{Attributes: e.MessageAttributes, DelaySeconds: intp(e.DelaySeconds),
		GroupID: e.MessageGroupID, DeduplicationID: e.MessageDeduplicationID, SenderID: sender}
	if e.MessageBody == nil {
		return m, missingParameter("MessageBody")
	}
	m.Body = *e.MessageBody
	for k, v := range e.MessageSystemAttributes {
		if k != "AWSTraceHeader" || v.DataType != "String" {
			return m, invalidParameter("Message system attribute %s is not supported: only AWSTraceHeader, of type String.", k)
		}
		m.TraceHeader = v.StringValue
	}
	return m, nil
}

type sendResultJSON struct {
	ID                           string `json:"Id,omitempty"`
	MessageID                    string `json:"MessageId"`
	MD5OfMessageBody             string `json:"MD5OfMessageBody"`
	MD5OfMessageAttributes       string `json:"MD5OfMessageAttributes,omitempty"`
	MD5OfMessageSystemAttributes string `json:"MD5OfMessageSystemAttributes,omitempty"`
	SequenceNumber               string `json:"SequenceNumber,omitempty"`
}

func sendResultOf(id string, r SendResult) sendResultJSON {
	return sendResultJSON{ID: id, MessageID: r.MessageID, MD5OfMessageBody: r.MD5OfMessageBody, MD5OfMessageAttributes: r.MD5OfMessageAttributes,
		MD5OfMessageSystemAttributes: r.MD5OfMessageSystemAttributes, SequenceNumber: r.SequenceNumber}
}

func (s *Service) opSendMessage(r *request) (any, error) {
	var in struct {
		QueueURL string `json:"QueueUrl"`
		sendEntry
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	m, err := in.outgoing(r.sender)
	if err != nil {
		return nil, err
	}
	res, err := s.sendOne(r.ctx, name, m)
	if err != nil {
		return nil, err
	}
	return sendResultOf("", res), nil
}

type batchError struct {
	ID          string `json:"Id"`
	Code        string `json:"Code"`
	Message     string `json:"Message,omitempty"`
	SenderFault bool   `json:"SenderFault"`
}

func batchErrorOf(id string, err error) batchError {
	e := asError(err)
	return batchError{ID: id, Code: e.Code, Message: e.Message, SenderFault: !e.Server}
}

// checkBatch checks a batch's entry IDs as every batch operation does.
func checkBatch(ids []string) error {
	switch {
	case len(ids) == 0:
		return newError("EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", "There should be at least one entry in the request.")
	case len(ids) > 10:
		return newError("TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
			"Maximum number of entries per request are 10. You have sent %d.", len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !awsid.Name(id, 80, "_-") {
			return newError("InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId",
				"A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long (got %q).", id)
		}
		if seen[id] {
			return newError("BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id %s repeated.", id)
		}
		seen[id] = true
	}
	return nil
}

type batchResponse[T any] struct {
	Successful []T          `json:"Successful"`
	Failed     []batchError `json:"Failed"`
}

func (s *Service) opSendMessageBatch(r *request) (any, error) {
	var in struct {
		QueueURL string      `json:"QueueUrl"`
		Entries  []sendEntry `json:"Entries"`
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(in.Entries))
	size := 0
	for i, e := range in.Entries {
		ids[i] = e.ID
		if e.MessageBody != nil {
			size += len(*e.MessageBody)
		}
		for k, v := range e.MessageAttributes {
			size += len(k) + len(v.DataType) + len(v.StringValue) + len(v.BinaryValue)
		}
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	if size > 1048576 {
		return nil, newError("BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong",
			"Batch requests cannot be longer than 1048576 bytes. You have sent %d bytes.", size)
	}
	out := batchResponse[sendResultJSON]{Successful: []sendResultJSON{}, Failed: []batchError{}}
	var ms []OutgoingMessage
	var idx []int
	for i := range in.Entries {
		m, err := in.Entries[i].outgoing(r.sender)
		if err != nil {
			out.Failed = append(out.Failed, batchErrorOf(ids[i], err))
			continue
		}
		ms = append(ms, m)
		idx = append(idx, i)
	}
	if len(ms) > 0 {
		rs, err := s.send(r.ctx, name, ms)
		if err != nil {
			return nil, err
		}
		for j, res := range rs {
			if res.err != nil {
				out.Failed = append(out.Failed, batchErrorOf(ids[idx[j]], res.err))
			} else {
				out.Successful = append(out.Successful, sendResultOf(ids[idx[j]], res.SendResult))
			}
		}
	}
	return out, nil
}

type messageJSON struct {
	MessageID              string                           `json:"MessageId"`
	ReceiptHandle          string                           `json:"ReceiptHandle"`
	MD5OfBody              string                           `json:"MD5OfBody"`
	Body                   string                           `json:"Body"`
	Attributes             map[string]string                `json:"Attributes,omitempty"`
	MD5OfMessageAttributes string                           `json:"MD5OfMessageAttributes,omitempty"`
	MessageAttributes      map[string]MessageAttributeValue `json:"MessageAttributes,omitempty"`
}

func (s *Service) opReceiveMessage(r *request) (any, error) {
	var in struct {
		QueueURL                    string   `json:"QueueUrl"`
		MaxNumberOfMessages         *num     `json:"MaxNumberOfMessages"`
		VisibilityTimeout           *num     `json:"VisibilityTimeout"`
		WaitTimeSeconds             *num     `json:"WaitTimeSeconds"`
		AttributeNames              []string `json:"AttributeNames"`
		MessageSystemAttributeNames []string `json:"MessageSystemAttributeNames"`
		MessageAttributeNames       []string `json:"MessageAttributeNames"`
		ReceiveRequestAttemptID     string   `json:"ReceiveRequestAttemptId"`
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	max := 1
	if in.MaxNumberOfMessages != nil {
		max = int(*in.MaxNumberOfMessages)
	}
	var wait time.Duration
	if in.WaitTimeSeconds != nil {
		if *in.WaitTimeSeconds < 0 || *in.WaitTimeSeconds > 20 {
			return nil, invalidValue(*in.WaitTimeSeconds, "WaitTimeSeconds", "Must be >= 0 and <= 20, if provided.")
		}
		wait = time.Duration(*in.WaitTimeSeconds) * time.Second
	} else {
		attrs, err := s.queueAttributes(r.ctx, name, []string{"ReceiveMessageWaitTimeSeconds"})
		if err != nil {
			return nil, err
		}
		n, _ := strconv.Atoi(attrs["ReceiveMessageWaitTimeSeconds"])
		wait = time.Duration(n) * time.Second
	}
	msgs, err := s.receive(r.ctx, name, max, intp(in.VisibilityTimeout), wait)
	if err != nil {
		return nil, err
	}
	sysNames := append(slices.Clone(in.AttributeNames), in.MessageSystemAttributeNames...)
	out := struct {
		Messages []messageJSON `json:"Messages,omitempty"`
	}{}
	for _, m := range msgs {
		out.Messages = append(out.Messages, renderMessage(m, sysNames, in.MessageAttributeNames))
	}
	return out, nil
}

// renderMessage keeps the system attributes and message attributes a
// ReceiveMessage asked for.
func renderMessage(m Message, sysNames, attrNames []string) messageJSON {
	j := messageJSON{MessageID: m.MessageID, ReceiptHandle: m.ReceiptHandle, MD5OfBody: m.MD5OfBody, Body: m.Body}
	all := slices.Contains(sysNames, "All")
	for k, v := range m.Attributes {
		if all || slices.Contains(sysNames, k) {
			if j.Attributes == nil {
				j.Attributes = map[string]string{}
			}
			j.Attributes[k] = v
		}
	}
	for k, v := range m.MessageAttributes {
		if wantAttribute(k, attrNames) {
			if j.MessageAttributes == nil {
				j.MessageAttributes = map[string]MessageAttributeValue{}
			}
			j.MessageAttributes[k] = v
		}
	}
	j.MD5OfMessageAttributes = md5OfAttributes(j.MessageAttributes)
	return j
}

// wantAttribute matches a message attribute name against
// MessageAttributeNames: "All", ".*", "prefix.*" or the name.
func wantAttribute(name string, patterns []string) bool {
	for _, p := range patterns {
		switch {
		case p == "All" || p == ".*" || p == name:
			return true
		case strings.HasSuffix(p, ".*") && strings.HasPrefix(name, strings.TrimSuffix(p, ".*")):
			return true
		}
	}
	return false
}

func (s *Service) opDeleteMessage(r *request) (any, error) {
	var in struct {
		QueueURL      string `json:"QueueUrl"`
		ReceiptHandle string `json:"ReceiptHandle"`
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	if in.ReceiptHandle == "" {
		return nil, missingParameter("ReceiptHandle")
	}
	return empty{}, s.deleteMessage(r.ctx, name, in.ReceiptHandle)
}

type batchID struct {
	ID string `json:"Id"`
}

// deleteEntry and visibilityEntry are entries of DeleteMessageBatch and
// ChangeMessageVisibilityBatch.
type (
	deleteEntry struct {
		ID            string `json:"Id"`
		ReceiptHandle string `json:"ReceiptHandle"`
	}
	visibilityEntry struct {
		ID                string `json:"Id"`
		ReceiptHandle     string `json:"ReceiptHandle"`
		VisibilityTimeout *num   `json:"VisibilityTimeout"`
	}
)

// eachEntry checks a batch's entry IDs, then does each entry: an entry's
// error is its failure, but a queue that does not exist fails the call.
func eachEntry[E any](entries []E, id func(E) string, do func(E) error) (any, error) {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = id(e)
	}
	if err := checkBatch(ids); err != nil {
		return nil, err
	}
	out := batchResponse[batchID]{Successful: []batchID{}, Failed: []batchError{}}
	for _, e := range entries {
		if err := do(e); err != nil {
			if errors.Is(err, ErrQueueDoesNotExist) {
				return nil, err
			}
			out.Failed = append(out.Failed, batchErrorOf(id(e), err))
			continue
		}
		out.Successful = append(out.Successful, batchID{id(e)})
	}
	return out, nil
}

func (s *Service) opDeleteMessageBatch(r *request) (any, error) {
	var in struct {
		QueueURL string        `json:"QueueUrl"`
		Entries  []deleteEntry `json:"Entries"`
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	return eachEntry(in.Entries, func(e deleteEntry) string { return e.ID }, func(e deleteEntry) error {
		return s.deleteMessage(r.ctx, name, e.ReceiptHandle)
	})
}

func (s *Service) opChangeMessageVisibility(r *request) (any, error) {
	var in struct {
		QueueURL          string `json:"QueueUrl"`
		ReceiptHandle     string `json:"ReceiptHandle"`
		VisibilityTimeout *num   `json:"VisibilityTimeout"`
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	if in.VisibilityTimeout == nil {
		return nil, missingParameter("VisibilityTimeout")
	}
	return empty{}, s.changeVisibility(r.ctx, name, in.ReceiptHandle, int(*in.VisibilityTimeout))
}

func (s *Service) opChangeMessageVisibilityBatch(r *request) (any, error) {
	var in struct {
		QueueURL string            `json:"QueueUrl"`
		Entries  []visibilityEntry `json:"Entries"`
	}
	name, err := s.decodeQueue(r, &in, &in.QueueURL)
	if err != nil {
		return nil, err
	}
	return eachEntry(in.Entries, func(e visibilityEntry) string { return e.ID }, func(e visibilityEntry) error {
		var t int
		if e.VisibilityTimeout != nil {
			t = int(*e.VisibilityTimeout)
		}
		return s.changeVisibility(r.ctx, name, e.ReceiptHandle, t)
	})
}
