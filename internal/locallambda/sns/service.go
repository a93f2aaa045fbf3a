package sns

import (
	"cmp"
	"context"
	"crypto/rsa"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Config configures a Service. Zero values take the documented defaults.
type Config struct {
	// Path is the SQLite database file; required.
	Path string
	// Region and AccountID are in every ARN. Defaults "us-east-1" and
	// "000000000000".
	Region, AccountID string
	// Logger receives the service's events. Nil discards them.
	Logger *slog.Logger
	// Clock stamps messages and schedules retries. Default time.Now.
	Clock func() time.Time
	// BaseURL returns the endpoint's base URL ("http://127.0.0.1:PORT"),
	// which SubscribeURL, UnsubscribeURL and SigningCertURL start with.
	// Required for http(s) subscriptions.
	BaseURL func() string
	// Functions queues the Event invocations of lambda subscriptions.
	// Nil: deliveries to lambda subscriptions fail.
	Functions Functions
	// Queues sends the messages of sqs subscriptions. Nil: deliveries to
	// sqs subscriptions fail.
	Queues Queues
	// HTTPClient posts to http(s) subscriptions. Default: a client with a
	// 15 s timeout (AWS's default delivery timeout).
	HTTPClient *http.Client
	// RetryDelays are the waits before the retries of a failed delivery;
	// its length is the number of retries. Nil means AWS's default
	// delivery policy for HTTP/S: three retries 20 s apart.
	RetryDelays []time.Duration
	// Workers bounds the deliveries under way at once. Default 4.
	Workers int
}

// Functions queues asynchronous (Event) invocations: the local Lambda's
// invoke.Invoker.
type Functions interface {
	// InvokeAsync queues an Event invocation of function (an ARN,
	// optionally qualified) and returns its request ID.
	InvokeAsync(ctx context.Context, function string, payload []byte) (string, error)
}

// Queues sends messages to SQS queues: the local SQS.
type Queues interface {
	// SendMessage sends body to the queue queueARN with message
	// attributes attrs (nil for none).
	SendMessage(ctx context.Context, queueARN, body string, attrs map[string]MessageAttribute) error
}

// MessageAttribute is a message attribute: DataType String, Number,
// Binary or String.Array (String, Number and Binary may carry a custom
// ".suffix"), with StringValue or, for Binary, BinaryValue.
type MessageAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

// Service is the local SNS: its API handler and its delivery loop. It is
// safe for concurrent use.
type Service struct {
	cfg  Config
	log  *slog.Logger
	db   *sql.DB
	key  *rsa.PrivateKey
	cert []byte // PEM

	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	sem      chan struct{}
	workers  sync.WaitGroup
	mu       sync.Mutex
	inFlight map[int64]bool
}

// Open opens (or creates) the service's database, resumes the deliveries
// a previous run left owed, and starts delivering.
func Open(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Path == "" {
		return nil, errors.New("local SNS: Config.Path is required")
	}
	cfg.Region = cmp.Or(cfg.Region, "us-east-1")
	cfg.AccountID = cmp.Or(cfg.AccountID, "000000000000")
	cfg.Workers = cmp.Or(cfg.Workers, 4)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.BaseURL == nil {
		cfg.BaseURL = func() string { return "" }
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = []time.Duration{20 * time.Second, 20 * time.Second, 20 * time.Second}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db, err := openDB(ctx, cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("local SNS: %w", err)
	}
	s := &Service{cfg: cfg, log: log, db: db,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		sem: make(chan struct{}, cfg.Workers), inFlight: map[int64]bool{}}
	if err := s.loadSigningKey(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("local SNS: %w", err)
	}
	go s.deliverLoop()
	return s, nil
}

// Close stops delivering (owed deliveries stay in the database and resume
// on the next Open), waits for the deliveries under way and closes the
// database.
func (s *Service) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	<-s.done
	s.workers.Wait()
	return s.db.Close()
}

func (s *Service) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Service) topicARN(name string) string {
	return "arn:aws:sns:" + s.cfg.Region + ":" + s.cfg.AccountID + ":" + name
}

// Handler serves the SNS API (query protocol) on any path; the server
// routes SNS requests to it.
func (s *Service) Handler() http.Handler { return http.HandlerFunc(s.serve) }

// CertificateHandler serves the PEM certificate whose key signs every
// message (SigningCertURL).
func (s *Service) CertificateHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(s.cert)
	})
}

// CertificatePath is the path of CertificateHandler on the endpoint.
const CertificatePath = "/_locallambda/sns/SimpleNotificationService.pem"

// operation is one SNS action.
type operation func(ctx context.Context, p params) (any, error)

func (s *Service) operations() map[string]operation {
	return map[string]operation{
		"CreateTopic":               s.createTopic,
		"DeleteTopic":               s.deleteTopic,
		"ListTopics":                s.listTopics,
		"GetTopicAttributes":        s.getTopicAttributes,
		"SetTopicAttributes":        s.setTopicAttributes,
		"Subscribe":                 s.subscribe,
		"ConfirmSubscription":       s.confirmSubscription,
		"Unsubscribe":               s.unsubscribe,
		"ListSubscriptions":         s.listSubscriptions,
		"ListSubscriptionsByTopic":  s.listSubscriptionsByTopic,
		"GetSubscriptionAttributes": s.getSubscriptionAttributes,
		"SetSubscriptionAttributes": s.setSubscriptionAttributes,
		"Publish":                   s.publish,
		"PublishBatch":              s.publishBatch,
		"TagResource":               s.tagResource,
		"UntagResource":             s.untagResource,
		"ListTagsForResource":       s.listTagsForResource,
	}
}

// maxRequestBody bounds a request: a 256 KB message, base64 attributes
// and a batch of ten.
const maxRequestBody = 4 << 20

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := r.ParseForm(); err != nil {
		WriteError(w, http.StatusBadRequest, "MalformedQueryString", "the request is not a well-formed query-protocol form: "+err.Error())
		return
	}
	p := params(r.Form)
	action := p.get("Action")
	op := s.operations()[action]
	if op == nil {
		WriteError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service.", action))
		return
	}
	if v := p.get("Version"); v != "" && v != "2010-03-31" {
		WriteError(w, http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("Invalid API version %q: SNS is 2010-03-31", v))
		return
	}
	result, err := op(r.Context(), p)
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			s.log.Error("local sns: "+action, "err", err)
			ae = &apiError{Status: http.StatusInternalServerError, Code: "InternalError", Message: err.Error()}
		}
		WriteError(w, ae.Status, ae.Code, ae.Message)
		return
	}
	writeResult(w, action, newRequestID(), result)
}

// Owed reports how many deliveries are owed, and how many of them failed
// at least once and wait for a retry (for status and tests).
func (s *Service) Owed(ctx context.Context) (owed, retrying int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(attempts > 0), 0) FROM deliveries`).Scan(&owed, &retrying)
	return owed, retrying, err
}
