package control

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-cd/sluice/internal/locallambda/lambdatest"
)

// FuzzCreateFunctionRequest sends arbitrary bodies to CreateFunction. The
// handler must never panic (a recovered panic would be a 500) and must
// always answer either 201 with a FunctionConfiguration or an AWS error
// envelope the SDK can resolve: a 4xx status, X-Amzn-ErrorType, and a JSON
// body whose __type matches it and whose message is not empty.
func FuzzCreateFunctionRequest(f *testing.F) {
	zip := base64.StdEncoding.EncodeToString(lambdatest.BootstrapZip(f, "fuzz"))
	seeds := []string{
		`{"FunctionName":"f","Role":"` + lambdatest.Role + `","Runtime":"provided.al2023","Handler":"bootstrap","Code":{"ZipFile":"` + zip + `"}}`,
		`{"FunctionName":"g","Role":"` + lambdatest.Role + `","Runtime":"python3.12","Handler":"h.h","Code":{"ZipFile":"` + zip + `"},"Publish":true,` +
			`"Environment":{"Variables":{"KEY":"v"}},"Tags":{"a":"b"},"Timeout":30,"MemorySize":256,"Architectures":["arm64"]}`,
		`{"FunctionName":"arn:aws:lambda:us-east-1:000000000000:function:h","Role":"` + lambdatest.Role + `","Runtime":"provided.al2023","Handler":"b","Code":{"S3Bucket":"b","S3Key":"k"}}`,
		`{"FunctionName":"i","Role":"` + lambdatest.Role + `","PackageType":"Image","Code":{"ImageUri":"x"}}`,
		`{"FunctionName":"j","Role":"r","Code":{"ZipFile":"not base64!"}}`,
		`{"FunctionName":"k","Role":"` + lambdatest.Role + `","Runtime":"provided.al2023","Handler":"b","Code":{"ZipFile":"UEs="},"Timeout":"3"}`,
		`{"VpcConfig":{"SubnetIds":["s"]},"Layers":["l"],"FileSystemConfigs":[{}],"SnapStart":{"ApplyOn":"PublishedVersions"}}`,
		`{"FunctionName":"` + strings.Repeat("x", 100) + `"}`,
		`[]`, `null`, `"str"`, `{`, ``, `{"FunctionName":12}`, `{"Environment":{"Variables":{"AWS_REGION":"x"}}}`,
		`{"FunctionName":"l","Role":"` + lambdatest.Role + `","Runtime":"provided.al2023","Handler":"b","Code":{"ZipFile":"` + zip + `"},"Timeout":99999999999999999999}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	h := newCtlServer(f).handler

	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/2015-03-31/functions", strings.NewReader(string(body)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		res := rec.Result()
		if res.StatusCode == http.StatusCreated {
			var conf struct{ FunctionName, State, LastUpdateStatus string }
			if err := json.Unmarshal(rec.Body.Bytes(), &conf); err != nil || conf.FunctionName == "" || conf.State == "" || conf.LastUpdateStatus == "" {
				t.Fatalf("201 with body %q (%v)", rec.Body.Bytes(), err)
			}
			// Keep the catalog small: every change rewrites it.
			del := httptest.NewRecorder()
			h.ServeHTTP(del, httptest.NewRequest(http.MethodDelete, "/2015-03-31/functions/"+conf.FunctionName, nil))
			if del.Code != http.StatusNoContent {
				t.Fatalf("DeleteFunction after create: %d %s", del.Code, del.Body.Bytes())
			}
			return
		}
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Fatalf("status %d for body %q: %s", res.StatusCode, body, rec.Body.Bytes())
		}
		typ := res.Header.Get("X-Amzn-ErrorType")
		var env struct {
			Type, Message, ErrorType string
		}
		var raw map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
			t.Fatalf("error body %q is not JSON: %v", rec.Body.Bytes(), err)
		}
		env.Type, _ = raw["Type"].(string)
		env.Message, _ = raw["message"].(string)
		env.ErrorType, _ = raw["__type"].(string)
		if typ == "" || env.ErrorType != typ || env.Message == "" || env.Type != "User" {
			t.Fatalf("error envelope %q with X-Amzn-ErrorType %q", rec.Body.Bytes(), typ)
		}
	})
}
