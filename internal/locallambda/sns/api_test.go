package sns

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/sluice-cd/sluice/internal/sluicetest"
)

// testService opens a Service on a fresh database and serves it; the SDK
// client signs (the server does not check: package access is the
// server's), so what is tested here is the API itself.
type testService struct {
	svc    *Service
	srv    *httptest.Server
	client *awssns.Client
	path   string
}

func newTestService(t *testing.T, cfg Config) *testService {
	t.Helper()
	ts := &testService{}
	mux := http.NewServeMux()
	ts.srv = httptest.NewServer(mux)
	t.Cleanup(ts.srv.Close)
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "sns.db")
	}
	ts.path = cfg.Path
	cfg.BaseURL = func() string { return ts.srv.URL }
	ts.open(t, cfg)
	mux.HandleFunc(CertificatePath, func(w http.ResponseWriter, r *http.Request) { ts.svc.CertificateHandler().ServeHTTP(w, r) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { ts.svc.Handler().ServeHTTP(w, r) })
	ts.client = awssns.New(awssns.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ts.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), RetryMaxAttempts: 1,
	})
	return ts
}

func (ts *testService) open(t *testing.T, cfg Config) {
	t.Helper()
	svc, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts.svc = svc
	t.Cleanup(func() { _ = svc.Close() })
}

func TestTopicsWithTheSDK(t *testing.T) {
	t.Parallel()
	ts := newTestService(t, Config{})
	ctx := context.Background()
	c := ts.client

	out, err := c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("orders"),
		Attributes: map[string]string{"DisplayName": "Orders"}, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	const arn = "arn:aws:sns:us-east-1:000000000000:orders"
	if got := aws.ToString(out.TopicArn); got != arn {
		t.Fatalf("TopicArn = %q, want %q", got, arn)
	}
	// The same name and attributes: the same topic; other attributes: an error.
	again, err := c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("orders"), Attributes: map[string]string{"DisplayName": "Orders"}})
	if err != nil || aws.ToString(again.TopicArn) != arn {
		t.Fatalf("CreateTopic again = %v, %v; want the same ARN", again, err)
	}
	_, err = c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("orders"), Attributes: map[string]string{"DisplayName": "Other"}})
	var ip *types.InvalidParameterException
	if !errors.As(err, &ip) || !strings.Contains(ip.ErrorMessage(), "Topic already exists with different attributes") {
		t.Errorf("CreateTopic with other attributes: %v, want InvalidParameterException", err)
	}
	for _, name := range []string{"bad name", "", strings.Repeat("x", 257)} {
		if _, err := c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String(name)}); !errors.As(err, &ip) {
			t.Errorf("CreateTopic(%q): %v, want InvalidParameterException", name, err)
		}
	}
	if _, err := c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("q.fifo")}); !errors.As(err, &ip) || !strings.Contains(err.Error(), "FIFO") {
		t.Errorf("CreateTopic(q.fifo): %v, want InvalidParameterException naming FIFO", err)
	}

	if _, err := c.SetTopicAttributes(ctx, &awssns.SetTopicAttributesInput{TopicArn: aws.String(arn),
		AttributeName: aws.String("DisplayName"), AttributeValue: aws.String("Orders v2")}); err != nil {
		t.Fatal(err)
	}
	ga, err := c.GetTopicAttributes(ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if ga.Attributes["DisplayName"] != "Orders v2" || ga.Attributes["TopicArn"] != arn || ga.Attributes["SubscriptionsConfirmed"] != "0" {
		t.Errorf("GetTopicAttributes = %v", ga.Attributes)
	}
	if _, err := c.SetTopicAttributes(ctx, &awssns.SetTopicAttributesInput{TopicArn: aws.String(arn),
		AttributeName: aws.String("Nope"), AttributeValue: aws.String("x")}); !errors.As(err, &ip) {
		t.Errorf("SetTopicAttributes(Nope): %v, want InvalidParameterException", err)
	}
	tags, err := c.ListTagsForResource(ctx, &awssns.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Key) != "team" {
		t.Errorf("ListTagsForResource = %v, %v", tags, err)
	}

	var nf *types.NotFoundException
	_, err = c.GetTopicAttributes(ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(arn + "-missing")})
	if !errors.As(err, &nf) || nf.ErrorMessage() != "Topic does not exist" {
		t.Errorf("GetTopicAttributes(missing): %v, want NotFoundException \"Topic does not exist\"", err)
	}

	// ListTopics pages by 100.
	for i := range 120 {
		if _, err := c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("t" + string(rune('a'+i/26)) + string(rune('a'+i%26)))}); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	p := awssns.NewListTopicsPaginator(c, &awssns.ListTopicsInput{})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, tp := range page.Topics {
			all = append(all, aws.ToString(tp.TopicArn))
		}
	}
	if len(all) != 121 || pages != 2 {
		t.Errorf("ListTopics: %d topics in %d pages, want 121 in 2", len(all), pages)
	}

	if _, err := c.DeleteTopic(ctx, &awssns.DeleteTopicInput{TopicArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetTopicAttributes(ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(arn)}); !errors.As(err, &nf) {
		t.Errorf("GetTopicAttributes after DeleteTopic: %v, want NotFoundException", err)
	}
	// Deleting a topic that does not exist is no error, as on AWS.
	if _, err := c.DeleteTopic(ctx, &awssns.DeleteTopicInput{TopicArn: aws.String(arn)}); err != nil {
		t.Errorf("DeleteTopic again: %v", err)
	}
}

func TestTopicTags(t *testing.T) {
	t.Parallel()
	ts := newTestService(t, Config{})
	ctx := context.Background()
	c := ts.client
	out, err := c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("tagged"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("a")}, {Key: aws.String("cost"), Value: aws.String("1")}}})
	if err != nil {
		t.Fatal(err)
	}
	arn := out.TopicArn
	list := func() string {
		t.Helper()
		out, err := c.ListTagsForResource(ctx, &awssns.ListTagsForResourceInput{ResourceArn: arn})
		if err != nil {
			t.Fatalf("ListTagsForResource: %v", err)
		}
		var kv []string
		for _, tag := range out.Tags {
			kv = append(kv, aws.ToString(tag.Key)+"="+aws.ToString(tag.Value))
		}
		return strings.Join(kv, ",")
	}
	if got, want := list(), "cost=1,team=a"; got != want {
		t.Errorf("tags after CreateTopic = %s; want %s", got, want)
	}
	// Through the SDK, which wants the empty TagResourceResult and
	// UntagResourceResult elements AWS writes.
	if _, err := c.TagResource(ctx, &awssns.TagResourceInput{ResourceArn: arn,
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("b")}, {Key: aws.String("env"), Value: aws.String("prod")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if got, want := list(), "cost=1,env=prod,team=b"; got != want {
		t.Errorf("tags after TagResource = %s; want %s", got, want)
	}
	if _, err := c.UntagResource(ctx, &awssns.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"team", "cost", "absent"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	if got, want := list(), "env=prod"; got != want {
		t.Errorf("tags after UntagResource = %s; want %s", got, want)
	}

	missing := aws.String(aws.ToString(arn) + "-missing")
	var rnf *types.ResourceNotFoundException
	for _, form := range []string{"Action=TagResource&Tags.member.1.Key=k&Tags.member.1.Value=v", "Action=UntagResource&TagKeys.member.1=k"} {
		if body := ts.post(t, http.StatusNotFound, form+"&ResourceArn="+aws.ToString(missing)); !strings.Contains(body, "<Code>ResourceNotFound</Code>") {
			t.Errorf("%s on a missing topic answered %s; want ResourceNotFound", form, body)
		}
	}
	if _, err := c.ListTagsForResource(ctx, &awssns.ListTagsForResourceInput{ResourceArn: missing}); !errors.As(err, &rnf) {
		t.Errorf("ListTagsForResource(missing): %v; want ResourceNotFoundException", err)
	}
}

// post sends a query-protocol form unsigned (the test server does not
// check signatures) and returns the answer's body; its status must be
// want.
func (ts *testService) post(t *testing.T, want int, form string) string {
	t.Helper()
	resp, err := http.Post(ts.srv.URL, "application/x-www-form-urlencoded", strings.NewReader(form+"&Version=2010-03-31"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: status %d (%s); want %d", form, resp.StatusCode, body, want)
	}
	return string(body)
}

func TestSubscriptionsWithTheSDK(t *testing.T) {
	t.Parallel()
	ts := newTestService(t, Config{})
	ctx := context.Background()
	c := ts.client
	topic := createTopic(t, c, "events")

	var ip *types.InvalidParameterException
	bad := []struct{ protocol, endpoint, want string }{
		{"email", "a@example.com", "does not support this protocol"},
		{"sqs", "not-an-arn", "SQS endpoint ARN"},
		{"lambda", "arn:aws:sqs:us-east-1:000000000000:q", "Lambda endpoint ARN"},
		{"https", "http://127.0.0.1/x", "Endpoint must match the specified protocol"},
	}
	for _, b := range bad {
		_, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String(b.protocol), Endpoint: aws.String(b.endpoint)})
		if !errors.As(err, &ip) || !strings.Contains(ip.ErrorMessage(), b.want) {
			t.Errorf("Subscribe(%s, %s): %v, want InvalidParameter %q", b.protocol, b.endpoint, err, b.want)
		}
	}
	_, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("lambda"),
		Endpoint: aws.String("arn:aws:lambda:us-east-1:000000000000:function:f"), Attributes: map[string]string{"RawMessageDelivery": "true"}})
	if !errors.As(err, &ip) || !strings.Contains(ip.ErrorMessage(), "does not support raw message delivery") {
		t.Errorf("Subscribe(lambda, raw): %v, want InvalidParameter", err)
	}
	_, err = c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:000000000000:q"), Attributes: map[string]string{"FilterPolicy": `{"a":"b"}`}})
	if !errors.As(err, &ip) || !strings.Contains(ip.ErrorMessage(), "FilterPolicy") {
		t.Errorf("Subscribe with a bad filter policy: %v, want InvalidParameter naming FilterPolicy", err)
	}
	var nf *types.NotFoundException
	if _, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic + "x"), Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:000000000000:q")}); !errors.As(err, &nf) {
		t.Errorf("Subscribe to a missing topic: %v, want NotFoundException", err)
	}

	sub, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:000000000000:q"), Attributes: map[string]string{"RawMessageDelivery": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(sub.SubscriptionArn)
	if !strings.HasPrefix(arn, topic+":") {
		t.Fatalf("SubscriptionArn = %q, want the topic's ARN and an ID", arn)
	}
	same, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("sqs"),
		Endpoint: aws.String("arn:aws:sqs:us-east-1:000000000000:q"), Attributes: map[string]string{"RawMessageDelivery": "true"}})
	if err != nil || aws.ToString(same.SubscriptionArn) != arn {
		t.Errorf("Subscribe again = %v, %v; want the same subscription", same, err)
	}

	if _, err := c.SetSubscriptionAttributes(ctx, &awssns.SetSubscriptionAttributesInput{SubscriptionArn: aws.String(arn),
		AttributeName: aws.String("FilterPolicy"), AttributeValue: aws.String(`{"store":[{"prefix":"eu-"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetSubscriptionAttributes(ctx, &awssns.SetSubscriptionAttributesInput{SubscriptionArn: aws.String(arn),
		AttributeName: aws.String("FilterPolicyScope"), AttributeValue: aws.String("Everything")}); !errors.As(err, &ip) {
		t.Errorf("FilterPolicyScope Everything: %v, want InvalidParameter", err)
	}
	ga, err := c.GetSubscriptionAttributes(ctx, &awssns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"RawMessageDelivery": "true", "FilterPolicy": `{"store":[{"prefix":"eu-"}]}`, "FilterPolicyScope": "MessageAttributes",
		"Protocol": "sqs", "TopicArn": topic, "PendingConfirmation": "false", "SubscriptionArn": arn}
	for k, v := range want {
		if ga.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, ga.Attributes[k], v)
		}
	}

	// An http subscription waits for its confirmation.
	hs, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"), Endpoint: aws.String("http://127.0.0.1:1/hook")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(hs.SubscriptionArn); got != "pending confirmation" {
		t.Errorf("http SubscriptionArn = %q, want \"pending confirmation\"", got)
	}
	list, err := c.ListSubscriptionsByTopic(ctx, &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Subscriptions) != 2 || aws.ToString(list.Subscriptions[1].SubscriptionArn) != "PendingConfirmation" {
		t.Errorf("ListSubscriptionsByTopic = %+v, want the sqs one and one PendingConfirmation", list.Subscriptions)
	}
	if _, err := c.ConfirmSubscription(ctx, &awssns.ConfirmSubscriptionInput{TopicArn: aws.String(topic), Token: aws.String("nope")}); !errors.As(err, &ip) {
		t.Errorf("ConfirmSubscription with a wrong token: %v, want InvalidParameter", err)
	}

	if _, err := c.Unsubscribe(ctx, &awssns.UnsubscribeInput{SubscriptionArn: aws.String(arn)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetSubscriptionAttributes(ctx, &awssns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(arn)}); !errors.As(err, &nf) {
		t.Errorf("GetSubscriptionAttributes after Unsubscribe: %v, want NotFoundException", err)
	}
	all, err := c.ListSubscriptions(ctx, &awssns.ListSubscriptionsInput{})
	if err != nil || len(all.Subscriptions) != 1 {
		t.Errorf("ListSubscriptions = %v, %v; want the http one left", all, err)
	}
}

func TestPublishChecksWithTheSDK(t *testing.T) {
	t.Parallel()
	ts := newTestService(t, Config{})
	ctx := context.Background()
	c := ts.client
	topic := createTopic(t, c, "checks")
	var ip *types.InvalidParameterException
	cases := []struct {
		name string
		in   awssns.PublishInput
		want string
	}{
		{"empty message", awssns.PublishInput{Message: aws.String("")}, "Empty message"},
		{"long subject", awssns.PublishInput{Message: aws.String("m"), Subject: aws.String(strings.Repeat("s", 101))}, "Subject"},
		{"subject newline", awssns.PublishInput{Message: aws.String("m"), Subject: aws.String("a\nb")}, "Subject"},
		{"too long", awssns.PublishInput{Message: aws.String(strings.Repeat("m", 256*1024+1))}, "Message too long"},
		{"structure without default", awssns.PublishInput{Message: aws.String(`{"sqs":"x"}`), MessageStructure: aws.String("json")}, "No default entry"},
		{"structure not json", awssns.PublishInput{Message: aws.String(`x`), MessageStructure: aws.String("json")}, "failed to parse"},
		{"number attribute", awssns.PublishInput{Message: aws.String("m"), MessageAttributes: map[string]types.MessageAttributeValue{
			"n": {DataType: aws.String("Number"), StringValue: aws.String("ten")}}}, "Could not cast message attribute 'n' value to number"},
		{"attribute type", awssns.PublishInput{Message: aws.String("m"), MessageAttributes: map[string]types.MessageAttributeValue{
			"n": {DataType: aws.String("Blob"), StringValue: aws.String("x")}}}, "supported type prefixes"},
		{"array attribute", awssns.PublishInput{Message: aws.String("m"), MessageAttributes: map[string]types.MessageAttributeValue{
			"a": {DataType: aws.String("String.Array"), StringValue: aws.String("x")}}}, "String.Array"},
		{"group id", awssns.PublishInput{Message: aws.String("m"), MessageGroupId: aws.String("g")}, "MessageGroupId"},
	}
	for _, tc := range cases {
		in := tc.in
		in.TopicArn = aws.String(topic)
		if _, err := c.Publish(ctx, &in); !errors.As(err, &ip) || !strings.Contains(ip.ErrorMessage(), tc.want) {
			t.Errorf("%s: Publish: %v, want InvalidParameter containing %q", tc.name, err, tc.want)
		}
	}
	var nf *types.NotFoundException
	if _, err := c.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic + "x"), Message: aws.String("m")}); !errors.As(err, &nf) {
		t.Errorf("Publish to a missing topic: %v, want NotFoundException", err)
	}
	out, err := c.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("m"), Subject: aws.String("s"),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"b": {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
			"a": {DataType: aws.String("String.Array"), StringValue: aws.String(`["x",1,true]`)},
			"n": {DataType: aws.String("Number.float"), StringValue: aws.String("1.5")},
		}})
	if err != nil || len(aws.ToString(out.MessageId)) != 36 {
		t.Errorf("Publish = %v, %v; want a message ID", out, err)
	}

	// PublishBatch: per-entry failures, and the batch errors.
	bo, err := c.PublishBatch(ctx, &awssns.PublishBatchInput{TopicArn: aws.String(topic), PublishBatchRequestEntries: []types.PublishBatchRequestEntry{
		{Id: aws.String("ok"), Message: aws.String("m")},
		{Id: aws.String("bad"), Message: aws.String("m"), MessageAttributes: map[string]types.MessageAttributeValue{
			"n": {DataType: aws.String("Number"), StringValue: aws.String("x")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bo.Successful) != 1 || aws.ToString(bo.Successful[0].Id) != "ok" || len(bo.Failed) != 1 ||
		aws.ToString(bo.Failed[0].Id) != "bad" || aws.ToString(bo.Failed[0].Code) != "InvalidParameter" || !bo.Failed[0].SenderFault {
		t.Errorf("PublishBatch = %+v", bo)
	}
	var dup *types.BatchEntryIdsNotDistinctException
	if _, err := c.PublishBatch(ctx, &awssns.PublishBatchInput{TopicArn: aws.String(topic), PublishBatchRequestEntries: []types.PublishBatchRequestEntry{
		{Id: aws.String("a"), Message: aws.String("m")}, {Id: aws.String("a"), Message: aws.String("m")}}}); !errors.As(err, &dup) {
		t.Errorf("PublishBatch with duplicate IDs: %v, want BatchEntryIdsNotDistinctException", err)
	}
	var many *types.TooManyEntriesInBatchRequestException
	entries := make([]types.PublishBatchRequestEntry, 11)
	for i := range entries {
		entries[i] = types.PublishBatchRequestEntry{Id: aws.String(string(rune('a' + i))), Message: aws.String("m")}
	}
	if _, err := c.PublishBatch(ctx, &awssns.PublishBatchInput{TopicArn: aws.String(topic), PublishBatchRequestEntries: entries}); !errors.As(err, &many) {
		t.Errorf("PublishBatch of 11: %v, want TooManyEntriesInBatchRequestException", err)
	}
	// An unknown action is AWS's InvalidAction.
	resp, err := http.Post(ts.srv.URL, "application/x-www-form-urlencoded", strings.NewReader("Action=Nope&Version=2010-03-31"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "<Code>InvalidAction</Code>") {
		t.Errorf("Action=Nope: %d %s", resp.StatusCode, body)
	}
}

func createTopic(t *testing.T, c *awssns.Client, name string) string {
	t.Helper()
	out, err := c.CreateTopic(context.Background(), &awssns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.TopicArn)
}

// receiver is an http(s) subscriber: it records what SNS posts.
type receiver struct {
	mu       sync.Mutex
	posts    []post
	failures int // answer 500 to this many posts first
}

type post struct {
	header http.Header
	body   []byte
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.failures > 0 {
		rc.failures--
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	rc.posts = append(rc.posts, post{r.Header.Clone(), b})
}

func (rc *receiver) got() []post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]post(nil), rc.posts...)
}

func TestHTTPSubscriptionConfirmationAndNotification(t *testing.T) {
	t.Parallel()
	rc := &receiver{failures: 1}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	ts := newTestService(t, Config{RetryDelays: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}})
	ctx := context.Background()
	c := ts.client
	topic := createTopic(t, c, "web")
	sub, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(hook.URL + "/hook"), ReturnSubscriptionArn: true})
	if err != nil {
		t.Fatal(err)
	}
	subARN := aws.ToString(sub.SubscriptionArn)
	// The first POST fails; the retry brings the confirmation.
	sluicetest.WaitFor(t, "the subscription confirmation", 10*time.Second, func() bool { return len(rc.got()) == 1 })
	conf := rc.got()[0]
	if conf.header.Get("x-amz-sns-message-type") != "SubscriptionConfirmation" || conf.header.Get("x-amz-sns-topic-arn") != topic ||
		conf.header.Get("x-amz-sns-message-id") == "" {
		t.Errorf("confirmation headers = %v", conf.header)
	}
	var env map[string]string
	if err := json.Unmarshal(conf.body, &env); err != nil {
		t.Fatalf("confirmation body %s: %v", conf.body, err)
	}
	if env["Type"] != "SubscriptionConfirmation" || env["Token"] == "" || env["TopicArn"] != topic || !strings.HasPrefix(env["SubscribeURL"], ts.srv.URL+"/?Action=ConfirmSubscription") {
		t.Errorf("confirmation = %v", env)
	}
	verifySignature(t, ts, env)

	// Publishing before the confirmation delivers nothing to it.
	if _, err := c.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("early")}); err != nil {
		t.Fatal(err)
	}
	ga, err := c.GetSubscriptionAttributes(ctx, &awssns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(subARN)})
	if err != nil || ga.Attributes["PendingConfirmation"] != "true" {
		t.Fatalf("before confirmation: %v, %v", ga, err)
	}

	// The subscriber follows the SubscribeURL, unsigned, as from AWS.
	resp, err := http.Get(env["SubscribeURL"])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<SubscriptionArn>"+subARN+"</SubscriptionArn>") {
		t.Fatalf("GET SubscribeURL: %d %s", resp.StatusCode, body)
	}

	if _, err := c.Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String("hello"), Subject: aws.String("greeting"),
		MessageAttributes: map[string]types.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("hi")}}}); err != nil {
		t.Fatal(err)
	}
	sluicetest.WaitFor(t, "the notification", 10*time.Second, func() bool { return len(rc.got()) == 2 })
	n := rc.got()[1]
	if n.header.Get("x-amz-sns-message-type") != "Notification" || n.header.Get("x-amz-sns-subscription-arn") != subARN ||
		n.header.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Errorf("notification headers = %v", n.header)
	}
	var note struct {
		Type, MessageId, TopicArn, Subject, Message, Timestamp, SignatureVersion, Signature, SigningCertURL, UnsubscribeURL string
		MessageAttributes                                                                                                   map[string]struct{ Type, Value string }
	}
	if err := json.Unmarshal(n.body, &note); err != nil {
		t.Fatal(err)
	}
	if note.Type != "Notification" || note.Message != "hello" || note.Subject != "greeting" || note.MessageId != n.header.Get("x-amz-sns-message-id") ||
		note.MessageAttributes["kind"].Value != "hi" || note.MessageAttributes["kind"].Type != "String" || note.SignatureVersion != "1" {
		t.Errorf("notification = %+v", note)
	}
	verifySignature(t, ts, stringFields(t, n.body))
	if strings.Contains(string(n.body), "early") {
		t.Error("the message published before the confirmation was delivered")
	}

	// The UnsubscribeURL works unsigned too.
	resp, err = http.Get(note.UnsubscribeURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET UnsubscribeURL: %d", resp.StatusCode)
	}
	var nf *types.NotFoundException
	if _, err := c.GetSubscriptionAttributes(ctx, &awssns.GetSubscriptionAttributesInput{SubscriptionArn: aws.String(subARN)}); !errors.As(err, &nf) {
		t.Errorf("after the UnsubscribeURL: %v, want NotFoundException", err)
	}
}

func TestHTTPDeliveryGivesUpAfterRetries(t *testing.T) {
	t.Parallel()
	rc := &receiver{failures: 1000}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	ts := newTestService(t, Config{RetryDelays: []time.Duration{5 * time.Millisecond, 5 * time.Millisecond}})
	c := ts.client
	topic := createTopic(t, c, "down")
	if _, err := c.Subscribe(context.Background(), &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(hook.URL)}); err != nil {
		t.Fatal(err)
	}
	sluicetest.WaitFor(t, "the delivery to be given up", 10*time.Second, func() bool { return ts.owed(t) == 0 })
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if got := 1000 - rc.failures; got != 3 {
		t.Errorf("%d attempts, want 3 (one and two retries)", got)
	}
}

// owed counts the deliveries still owed.
func (ts *testService) owed(t *testing.T) int {
	t.Helper()
	var n int
	if err := ts.svc.db.QueryRow(`SELECT count(*) FROM deliveries`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// stringFields are the string members of a JSON object.
func stringFields(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	out := map[string]string{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func TestOwedDeliverySurvivesRestart(t *testing.T) {
	t.Parallel()
	rc := &receiver{failures: 1}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	var mu sync.Mutex
	var offset time.Duration
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(offset) }
	// One retry, an hour after the failure: the delivery is owed when the
	// service stops.
	ts := newTestService(t, Config{Clock: clock, RetryDelays: []time.Duration{time.Hour}})
	c := ts.client
	topic := createTopic(t, c, "durable")
	if _, err := c.Subscribe(context.Background(), &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String("http"),
		Endpoint: aws.String(hook.URL)}); err != nil {
		t.Fatal(err)
	}
	sluicetest.WaitFor(t, "the first attempt to fail", 10*time.Second, func() bool {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return rc.failures == 0
	})
	sluicetest.WaitFor(t, "the retry to be scheduled", 10*time.Second, func() bool {
		var attempts int
		_ = ts.svc.db.QueryRow(`SELECT attempts FROM deliveries`).Scan(&attempts)
		return attempts == 1
	})
	if err := ts.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(rc.got()); n != 0 {
		t.Fatalf("%d deliveries before the restart, want none", n)
	}
	// Two hours later, a new run of the service delivers what was owed.
	mu.Lock()
	offset = 2 * time.Hour
	mu.Unlock()
	ts.open(t, Config{Path: ts.path, Clock: clock, BaseURL: func() string { return ts.srv.URL }, RetryDelays: []time.Duration{time.Hour}})
	sluicetest.WaitFor(t, "the owed confirmation after the restart", 10*time.Second, func() bool { return len(rc.got()) == 1 })
	if got := rc.got()[0].header.Get("x-amz-sns-message-type"); got != "SubscriptionConfirmation" {
		t.Errorf("delivered %q, want the SubscriptionConfirmation", got)
	}
	// The topic and its subscription are still there.
	list, err := c.ListSubscriptionsByTopic(context.Background(), &awssns.ListSubscriptionsByTopicInput{TopicArn: aws.String(topic)})
	if err != nil || len(list.Subscriptions) != 1 {
		t.Errorf("after the restart: %v, %v", list, err)
	}
	sluicetest.WaitFor(t, "the delivered confirmation to be no longer owed", 10*time.Second, func() bool { return ts.owed(t) == 0 })
}
