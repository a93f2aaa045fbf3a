package control

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Event source mappings: Create, Get, List, Update, Delete. They are
// validated and stored, and move through AWS's states (Creating →
// Enabled/Disabled, Updating → …, Deleting → gone). A mapping whose
// source is a queue of the local SQS is delivered while it is Enabled:
// each change of state tells the local Lambda's delivery
// (Config.MappingsChanged), which reads EventSourceMappings and records
// LastProcessingResult (mapping_delivery.go). Delivery from Kinesis,
// DynamoDB Streams and the other sources is not part of the local Lambda:
// those mappings are stored only, and LastProcessingResult stays "No
// records processed".

type eventSourceMapping struct {
	UUID                           string                     `json:"uuid"`
	Function                       string                     `json:"function"`
	Qualifier                      string                     `json:"qualifier,omitempty"`
	EventSourceArn                 string                     `json:"eventSourceArn,omitempty"`
	Enabled                        bool                       `json:"enabled"`
	State                          esmState                   `json:"state"`
	StateTransitionReason          string                     `json:"stateTransitionReason"`
	LastModified                   time.Time                  `json:"lastModified"`
	BatchSize                      int                        `json:"batchSize"`
	MaximumBatchingWindowInSeconds *int                       `json:"maximumBatchingWindowInSeconds,omitempty"`
	StartingPosition               string                     `json:"startingPosition,omitempty"`
	StartingPositionTimestamp      *float64                   `json:"startingPositionTimestamp,omitempty"`
	ParallelizationFactor          *int                       `json:"parallelizationFactor,omitempty"`
	MaximumRecordAgeInSeconds      *int                       `json:"maximumRecordAgeInSeconds,omitempty"`
	BisectBatchOnFunctionError     *bool                      `json:"bisectBatchOnFunctionError,omitempty"`
	MaximumRetryAttempts           *int                       `json:"maximumRetryAttempts,omitempty"`
	TumblingWindowInSeconds        *int                       `json:"tumblingWindowInSeconds,omitempty"`
	FunctionResponseTypes          []string                   `json:"functionResponseTypes,omitempty"`
	OnFailure                      string                     `json:"onFailure,omitempty"`
	FilterCriteria                 json.RawMessage            `json:"filterCriteria,omitempty"`
	ScalingConfig                  json.RawMessage            `json:"scalingConfig,omitempty"`
	Topics                         []string                   `json:"topics,omitempty"`
	Queues                         []string                   `json:"queues,omitempty"`
	Extra                          map[string]json.RawMessage `json:"extra,omitempty"` // other members, stored and echoed
	Tags                           map[string]string          `json:"tags,omitempty"`
	// LastProcessingResult is what delivery last recorded; "" is "No
	// records processed".
	LastProcessingResult string `json:"lastProcessingResult,omitempty"`
}

func (e *eventSourceMapping) transitional() bool {
	return e.State == esmCreating || e.State == esmUpdating || e.State == esmDeleting
}

// sourceKind is the event source's service: sqs, kinesis, dynamodb, kafka,
// mq, rds (DocumentDB) or "" for self-managed Kafka.
func (e *eventSourceMapping) sourceKind() string {
	if a, ok := parseARN(e.EventSourceArn); ok {
		return a.Service
	}
	return ""
}

// esmFields are the members Create and Update share.
type esmFields struct {
	FunctionName                   *string                `json:"FunctionName"`
	Enabled                        *bool                  `json:"Enabled"`
	BatchSize                      *int                   `json:"BatchSize"`
	MaximumBatchingWindowInSeconds *int                   `json:"MaximumBatchingWindowInSeconds"`
	ParallelizationFactor          *int                   `json:"ParallelizationFactor"`
	MaximumRecordAgeInSeconds      *int                   `json:"MaximumRecordAgeInSeconds"`
	BisectBatchOnFunctionError     *bool                  `json:"BisectBatchOnFunctionError"`
	MaximumRetryAttempts           *int                   `json:"MaximumRetryAttempts"`
	TumblingWindowInSeconds        *int                   `json:"TumblingWindowInSeconds"`
	FunctionResponseTypes          []string               `json:"FunctionResponseTypes"`
	DestinationConfig              *destinationConfigJSON `json:"DestinationConfig"`
	FilterCriteria                 json.RawMessage        `json:"FilterCriteria"`
	ScalingConfig                  json.RawMessage        `json:"ScalingConfig"`
}

type createESMRequest struct {
	esmFields
	EventSourceArn            string            `json:"EventSourceArn"`
	StartingPosition          string            `json:"StartingPosition"`
	StartingPositionTimestamp *float64          `json:"StartingPositionTimestamp"`
	Topics                    []string          `json:"Topics"`
	Queues                    []string          `json:"Queues"`
	Tags                      map[string]string `json:"Tags"`
}

// esmKnownMembers are the request members decoded into fields; the rest
// are kept verbatim in Extra.
var esmKnownMembers = map[string]bool{
	"FunctionName": true, "Enabled": true, "BatchSize": true, "MaximumBatchingWindowInSeconds": true,
	"ParallelizationFactor": true, "MaximumRecordAgeInSeconds": true, "BisectBatchOnFunctionError": true,
	"MaximumRetryAttempts": true, "TumblingWindowInSeconds": true, "FunctionResponseTypes": true,
	"DestinationConfig": true, "FilterCriteria": true, "ScalingConfig": true, "EventSourceArn": true,
	"StartingPosition": true, "StartingPositionTimestamp": true, "Topics": true, "Queues": true, "Tags": true,
}

// extraMembers returns the members of a JSON object body not in known.
func extraMembers(body []byte) map[string]json.RawMessage {
	var all map[string]json.RawMessage
	if json.Unmarshal(body, &all) != nil {
		return nil
	}
	extra := map[string]json.RawMessage{}
	for k, v := range all {
		if !esmKnownMembers[k] && rawPresent(v) {
			extra[k] = v
		}
	}
	if len(extra) == 0 {
		return nil
	}
	return extra
}

// apply copies the members present onto e (FunctionName and Enabled are
// the caller's).
func (f *esmFields) apply(e *eventSourceMapping) {
	if f.BatchSize != nil {
		e.BatchSize = *f.BatchSize
	}
	if f.MaximumBatchingWindowInSeconds != nil {
		e.MaximumBatchingWindowInSeconds = f.MaximumBatchingWindowInSeconds
	}
	if f.ParallelizationFactor != nil {
		e.ParallelizationFactor = f.ParallelizationFactor
	}
	if f.MaximumRecordAgeInSeconds != nil {
		e.MaximumRecordAgeInSeconds = f.MaximumRecordAgeInSeconds
	}
	if f.BisectBatchOnFunctionError != nil {
		e.BisectBatchOnFunctionError = f.BisectBatchOnFunctionError
	}
	if f.MaximumRetryAttempts != nil {
		e.MaximumRetryAttempts = f.MaximumRetryAttempts
	}
	if f.TumblingWindowInSeconds != nil {
		e.TumblingWindowInSeconds = f.TumblingWindowInSeconds
	}
	if f.FunctionResponseTypes != nil {
		e.FunctionResponseTypes = slices.Clone(f.FunctionResponseTypes)
	}
	if f.DestinationConfig != nil {
		e.OnFailure = ""
		if f.DestinationConfig.OnFailure != nil {
			e.OnFailure = f.DestinationConfig.OnFailure.Destination
		}
	}
	if f.FilterCriteria != nil {
		e.FilterCriteria = nil
		if rawPresent(f.FilterCriteria) {
			e.FilterCriteria = slices.Clone(f.FilterCriteria)
		}
	}
	if f.ScalingConfig != nil {
		e.ScalingConfig = nil
		if rawPresent(f.ScalingConfig) {
			e.ScalingConfig = slices.Clone(f.ScalingConfig)
		}
	}
}

// validateESM checks a mapping as AWS does for its source type.
func validateESM(e *eventSourceMapping, d *destinationConfigJSON) error {
	kind := e.sourceKind()
	if e.BatchSize < 1 || e.BatchSize > 10000 {
		return awserr.Validation(e.BatchSize, "batchSize", "Member must have value between 1 and 10000")
	}
	if w := e.MaximumBatchingWindowInSeconds; w != nil && (*w < 0 || *w > 300) {
		return awserr.Validation(*w, "maximumBatchingWindowInSeconds", "Member must have value between 0 and 300")
	}
	if n := e.MaximumRetryAttempts; n != nil && (*n < -1 || *n > 10000) {
		return awserr.Validation(*n, "maximumRetryAttempts", "Member must have value between -1 and 10000")
	}
	if n := e.ParallelizationFactor; n != nil && (*n < 1 || *n > 10) {
		return awserr.Validation(*n, "parallelizationFactor", "Member must have value between 1 and 10")
	}
	for _, t := range e.FunctionResponseTypes {
		if t != "ReportBatchItemFailures" {
			return awserr.Validation(t, "functionResponseTypes", "Member must satisfy enum value set: [ReportBatchItemFailures]")
		}
	}
	if d != nil && d.OnSuccess != nil && d.OnSuccess.Destination != "" && kind != "kafka" && kind != "" {
		return awserr.InvalidParameter("DestinationConfig.OnSuccess is not supported for %s event source mappings; only OnFailure is.", kind)
	}
	if err := checkDestination(e.OnFailure, true); err != nil {
		return err
	}
	switch kind {
	case "sqs":
		if e.StartingPosition != "" {
			return awserr.InvalidParameter("StartingPosition is not valid for Amazon SQS event sources.")
		}
		if e.BatchSize > 10 && (e.MaximumBatchingWindowInSeconds == nil || *e.MaximumBatchingWindowInSeconds < 1) {
			return awserr.InvalidParameter("Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10")
		}
	case "kinesis", "dynamodb":
		switch e.StartingPosition {
		case "TRIM_HORIZON", "LATEST":
		case "AT_TIMESTAMP":
			if kind == "dynamodb" {
				return awserr.InvalidParameter("StartingPosition AT_TIMESTAMP is not supported for DynamoDB Streams.")
			}
			if e.StartingPositionTimestamp == nil {
				return awserr.InvalidParameter("StartingPositionTimestamp is required with StartingPosition AT_TIMESTAMP.")
			}
		case "":
			return awserr.InvalidParameter("StartingPosition is required for %s event sources: TRIM_HORIZON, LATEST or AT_TIMESTAMP.", kind)
		default:
			return awserr.Validation(e.StartingPosition, "startingPosition", "Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_TIMESTAMP]")
		}
	case "kafka", "mq", "rds", "":
	default:
		return awserr.InvalidParameter("Unrecognized event source %s: event source mappings take Amazon SQS, Kinesis, DynamoDB Streams, Amazon MSK, Amazon MQ or DocumentDB sources.", e.EventSourceArn)
	}
	return nil
}

type esmConfigurationJSON struct {
	UUID                           string                 `json:"UUID"`
	EventSourceMappingArn          string                 `json:"EventSourceMappingArn"`
	EventSourceArn                 string                 `json:"EventSourceArn,omitempty"`
	FunctionArn                    string                 `json:"FunctionArn"`
	LastModified                   float64                `json:"LastModified"`
	LastProcessingResult           string                 `json:"LastProcessingResult"`
	State                          string                 `json:"State"`
	StateTransitionReason          string                 `json:"StateTransitionReason"`
	BatchSize                      int                    `json:"BatchSize"`
	MaximumBatchingWindowInSeconds *int                   `json:"MaximumBatchingWindowInSeconds,omitempty"`
	StartingPosition               string                 `json:"StartingPosition,omitempty"`
	StartingPositionTimestamp      *float64               `json:"StartingPositionTimestamp,omitempty"`
	ParallelizationFactor          *int                   `json:"ParallelizationFactor,omitempty"`
	MaximumRecordAgeInSeconds      *int                   `json:"MaximumRecordAgeInSeconds,omitempty"`
	BisectBatchOnFunctionError     *bool                  `json:"BisectBatchOnFunctionError,omitempty"`
	MaximumRetryAttempts           *int                   `json:"MaximumRetryAttempts,omitempty"`
	TumblingWindowInSeconds        *int                   `json:"TumblingWindowInSeconds,omitempty"`
	FunctionResponseTypes          []string               `json:"FunctionResponseTypes,omitempty"`
	DestinationConfig              *destinationConfigJSON `json:"DestinationConfig,omitempty"`
	FilterCriteria                 json.RawMessage        `json:"FilterCriteria,omitempty"`
	ScalingConfig                  json.RawMessage        `json:"ScalingConfig,omitempty"`
	Topics                         []string               `json:"Topics,omitempty"`
	Queues                         []string               `json:"Queues,omitempty"`
}

// esmConfiguration renders a mapping, with the members the local Lambda
// stores without modelling them merged in.
func (a arns) esmConfiguration(e *eventSourceMapping) json.RawMessage {
	c := esmConfigurationJSON{
		UUID:                           e.UUID,
		EventSourceMappingArn:          a.eventSourceMapping(e.UUID),
		EventSourceArn:                 e.EventSourceArn,
		FunctionArn:                    a.qualified(e.Function, e.Qualifier),
		LastModified:                   awsTimestamp(e.LastModified),
		LastProcessingResult:           cmp.Or(e.LastProcessingResult, "No records processed"),
		State:                          string(e.State),
		StateTransitionReason:          e.StateTransitionReason,
		BatchSize:                      e.BatchSize,
		MaximumBatchingWindowInSeconds: e.MaximumBatchingWindowInSeconds,
		StartingPosition:               e.StartingPosition,
		StartingPositionTimestamp:      e.StartingPositionTimestamp,
		ParallelizationFactor:          e.ParallelizationFactor,
		MaximumRecordAgeInSeconds:      e.MaximumRecordAgeInSeconds,
		BisectBatchOnFunctionError:     e.BisectBatchOnFunctionError,
		MaximumRetryAttempts:           e.MaximumRetryAttempts,
		TumblingWindowInSeconds:        e.TumblingWindowInSeconds,
		FunctionResponseTypes:          e.FunctionResponseTypes,
		FilterCriteria:                 e.FilterCriteria,
		ScalingConfig:                  e.ScalingConfig,
		Topics:                         e.Topics,
		Queues:                         e.Queues,
	}
	if e.OnFailure != "" {
		c.DestinationConfig = &destinationConfigJSON{OnFailure: &destinationJSON{Destination: e.OnFailure}}
	}
	b, _ := json.Marshal(c)
	if len(e.Extra) == 0 {
		return b
	}
	var obj map[string]json.RawMessage
	_ = json.Unmarshal(b, &obj)
	for k, v := range e.Extra {
		if _, ok := obj[k]; !ok {
			obj[k] = v
		}
	}
	b, _ = json.Marshal(obj)
	return b
}

// esmTarget parses an ESM FunctionName and checks that the function (and
// the qualifier, if any) exists.
func (cp *Plane) esmTarget(m *catalog, raw string) (functionRef, error) {
	ref, err := cp.arns.parseFunctionName(raw)
	if err != nil {
		return ref, err
	}
	fn, err := cp.st.lookup(m, ref, ref.Qualifier)
	if err != nil {
		return ref, err
	}
	if ref.Qualifier != "" {
		if _, _, err := cp.st.resolveQualifier(fn, ref.Qualifier); err != nil {
			return ref, err
		}
	}
	return ref, nil
}

func (cp *Plane) createEventSourceMapping(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, "CreateEventSourceMapping")
	if err != nil {
		return err
	}
	var req createESMRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.FunctionName == nil || *req.FunctionName == "" {
		return awserr.Validation("null", "functionName", "Member must not be null")
	}
	extra := extraMembers(body)
	if req.EventSourceArn == "" && extra["SelfManagedEventSource"] == nil {
		return awserr.InvalidParameter("EventSourceArn is required (or SelfManagedEventSource for a self-managed Apache Kafka cluster).")
	}
	if req.EventSourceArn != "" {
		if _, ok := parseARN(req.EventSourceArn); !ok {
			return awserr.Validation(req.EventSourceArn, "eventSourceArn", `Member must satisfy regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)`)
		}
	}
	e := &eventSourceMapping{
		UUID:                      uuid.NewString(),
		EventSourceArn:            req.EventSourceArn,
		Enabled:                   req.Enabled == nil || *req.Enabled,
		State:                     esmCreating,
		StateTransitionReason:     "USER_INITIATED",
		LastModified:              cp.cfg.Clock().UTC(),
		StartingPosition:          req.StartingPosition,
		StartingPositionTimestamp: req.StartingPositionTimestamp,
		Topics:                    req.Topics,
		Queues:                    req.Queues,
		Extra:                     extra,
		Tags:                      req.Tags,
	}
	e.BatchSize = 100
	if e.sourceKind() == "sqs" {
		e.BatchSize = 10
	}
	req.esmFields.apply(e)
	if err := validateESM(e, req.DestinationConfig); err != nil {
		return err
	}
	if err := validateTags(req.Tags, 0); err != nil {
		return err
	}
	var resp json.RawMessage
	err = cp.st.write(func(m *catalog) error {
		ref, err := cp.esmTarget(m, *req.FunctionName)
		if err != nil {
			return err
		}
		e.Function, e.Qualifier = ref.Name, ref.Qualifier
		for _, other := range m.Mappings {
			if e.EventSourceArn != "" && other.EventSourceArn == e.EventSourceArn && other.Function == e.Function {
				return awserr.ResourceConflict("The event source arn (%s) and function (%s) provided mapping already exists. Please update or delete the existing mapping with UUID %s",
					e.EventSourceArn, e.Function, other.UUID)
			}
		}
		m.touchMapping(e.UUID)
		m.Mappings[e.UUID] = e
		resp = cp.arns.esmConfiguration(e)
		return nil
	})
	if err != nil {
		return err
	}
	cp.startMappingTransition(e.UUID)
	return respondRaw(w, http.StatusAccepted, resp)
}

func esmNotFound() error {
	return awserr.ResourceNotFound("The resource you requested does not exist.")
}

func (cp *Plane) getEventSourceMapping(w http.ResponseWriter, r *http.Request) error {
	var resp json.RawMessage
	err := cp.st.read(func(m *catalog) error {
		e := m.Mappings[r.PathValue("uuid")]
		if e == nil {
			return esmNotFound()
		}
		resp = cp.arns.esmConfiguration(e)
		return nil
	})
	if err != nil {
		return err
	}
	return respondRaw(w, http.StatusOK, resp)
}

func (cp *Plane) listEventSourceMappings(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	max, err := parseMaxItems(q.Get("MaxItems"), 100, 10000)
	if err != nil {
		return err
	}
	var filter *functionRef
	if raw := q.Get("FunctionName"); raw != "" {
		ref, err := cp.arns.parseFunctionName(raw)
		if err != nil {
			return err
		}
		filter = &ref
	}
	source := q.Get("EventSourceArn")
	var ids []string
	var confs = map[string]json.RawMessage{}
	_ = cp.st.read(func(m *catalog) error {
		for _, id := range slices.Sorted(maps.Keys(m.Mappings)) {
			e := m.Mappings[id]
			if source != "" && e.EventSourceArn != source {
				continue
			}
			if filter != nil && (e.Function != filter.Name || (filter.Qualifier != "" && e.Qualifier != filter.Qualifier)) {
				continue
			}
			ids = append(ids, id)
			confs[id] = cp.arns.esmConfiguration(e)
		}
		return nil
	})
	page, next, err := paginate(ids, func(id string) string { return id }, q.Get("Marker"), max)
	if err != nil {
		return err
	}
	resp := struct {
		EventSourceMappings []json.RawMessage `json:"EventSourceMappings"`
		NextMarker          string            `json:"NextMarker,omitempty"`
	}{EventSourceMappings: []json.RawMessage{}, NextMarker: next}
	for _, id := range page {
		resp.EventSourceMappings = append(resp.EventSourceMappings, confs[id])
	}
	return respondJSON(w, http.StatusOK, resp)
}

func esmInUse(e *eventSourceMapping) error {
	return awserr.Errorf(http.StatusBadRequest, awserr.TypeResourceInUse,
		"Cannot modify the event source mapping %s while it is in state %s; retry when it is Enabled or Disabled.", e.UUID, e.State)
}

func (cp *Plane) updateEventSourceMapping(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(r, "UpdateEventSourceMapping")
	if err != nil {
		return err
	}
	var req esmFields
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	var resp json.RawMessage
	err = cp.st.write(func(m *catalog) error {
		m.touchMapping(r.PathValue("uuid"))
		cur := m.Mappings[r.PathValue("uuid")]
		if cur == nil {
			return esmNotFound()
		}
		if cur.transitional() {
			return esmInUse(cur)
		}
		e := *cur
		if req.FunctionName != nil && *req.FunctionName != "" {
			ref, err := cp.esmTarget(m, *req.FunctionName)
			if err != nil {
				return err
			}
			e.Function, e.Qualifier = ref.Name, ref.Qualifier
		}
		if req.Enabled != nil {
			e.Enabled = *req.Enabled
		}
		req.apply(&e)
		if err := validateESM(&e, req.DestinationConfig); err != nil {
			return err
		}
		e.State = esmUpdating
		e.StateTransitionReason = "USER_INITIATED"
		e.LastModified = cp.cfg.Clock().UTC()
		m.Mappings[e.UUID] = &e
		resp = cp.arns.esmConfiguration(&e)
		return nil
	})
	if err != nil {
		return err
	}
	cp.mappingsChanged() // delivery stops while the mapping is not Enabled
	cp.startMappingTransition(r.PathValue("uuid"))
	return respondRaw(w, http.StatusAccepted, resp)
}

func (cp *Plane) deleteEventSourceMapping(w http.ResponseWriter, r *http.Request) error {
	var resp json.RawMessage
	err := cp.st.write(func(m *catalog) error {
		m.touchMapping(r.PathValue("uuid"))
		e := m.Mappings[r.PathValue("uuid")]
		if e == nil {
			return esmNotFound()
		}
		if e.State == esmCreating || e.State == esmUpdating {
			return esmInUse(e)
		}
		e.State = esmDeleting
		e.StateTransitionReason = "USER_INITIATED"
		e.LastModified = cp.cfg.Clock().UTC()
		resp = cp.arns.esmConfiguration(e)
		return nil
	})
	if err != nil {
		return err
	}
	cp.mappingsChanged() // delivery stops while the mapping is not Enabled
	cp.startMappingTransition(r.PathValue("uuid"))
	return respondRaw(w, http.StatusAccepted, resp)
}

// startMappingTransition settles a mapping in a transitional state in the
// background: Creating/Updating become Enabled or Disabled, Deleting
// removes it.
func (cp *Plane) startMappingTransition(id string) {
	cp.goBackground(func(ctx context.Context) {
		if hook := cp.cfg.BeforeActivation; hook != nil {
			hook("event-source-mapping", id)
		}
		if ctx.Err() != nil {
			return
		}
		err := cp.st.write(func(m *catalog) error {
			m.touchMapping(id)
			e := m.Mappings[id]
			if e == nil {
				return nil
			}
			switch e.State {
			case esmCreating, esmUpdating:
				e.State = esmDisabled
				if e.Enabled {
					e.State = esmEnabled
				}
			case esmDeleting:
				delete(m.Mappings, id)
			}
			return nil
		})
		if err != nil {
			cp.log.Error("local lambda: settle event source mapping", "uuid", id, "err", err)
		}
		cp.mappingsChanged()
	})
}
