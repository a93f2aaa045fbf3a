package control

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// splitForTest runs the splitter over doc with the ZipFile at path going
// to memory, and decodes the rest into v; the package is nil when the
// document has none.
func splitForTest(doc []byte, path []string, v any) ([]byte, error) {
	var zip *bytes.Buffer
	s := &zipFileSplitter{in: bufio.NewReaderSize(bytes.NewReader(doc), 16), path: path, zip: func() (io.Writer, error) {
		zip = &bytes.Buffer{}
		return zip, nil
	}}
	if err := s.split(); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(s.rest.Bytes(), v); err != nil {
		return nil, err
	}
	if zip == nil {
		return nil, nil
	}
	return zip.Bytes(), nil
}

// sameAsEncodingJSON checks that splitting doc decodes to what
// json.Unmarshal makes of it, ZipFile included.
func sameAsEncodingJSON(t *testing.T, doc []byte) {
	t.Helper()
	var want createFunctionRequest
	wantErr := json.Unmarshal(doc, &want)
	var got createFunctionRequest
	zip, err := splitForTest(doc, []string{"Code", "ZipFile"}, &got)
	if wantErr != nil {
		if err == nil {
			t.Fatalf("%q: split accepted what json.Unmarshal refuses (%v)", doc, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("%q: split: %v; json.Unmarshal accepts it", doc, err)
	}
	if got.Code != nil {
		if got.Code.ZipFile != nil {
			t.Fatalf("%q: ZipFile left in the rest: %q", doc, got.Code.ZipFile)
		}
		got.Code.ZipFile = zip
	}
	if want.Code != nil && len(want.Code.ZipFile) == 0 {
		want.Code.ZipFile = nil
	}
	if got.Code != nil && len(got.Code.ZipFile) == 0 {
		got.Code.ZipFile = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: split decodes to\n%+v\njson.Unmarshal to\n%+v", doc, got, want)
	}
}

var splitterSeeds = []string{
	`{"FunctionName":"f","Code":{"ZipFile":"UEsDBA=="}}`,
	`{"Code":{"S3Bucket":"b","S3Key":"k"},"Description":"ZipFile"}`,
	`{"Code" : { "zipfile" : "AAEC" , "S3Key":"k" } , "Tags":{"ZipFile":"x"}}`,
	`{"Code":{"ZipFile":"AA\/B\u0043"}}`,
	`{"Code":{"ZipFile":"AAAA","ZipFile":"BBBB"}}`,
	`{"Code":{"ZipFile":"AAAA"},"Code":{"ZipFile":null}}`,
	`{"Code":{"ZipFile":"AAAA"},"Code":{"S3Bucket":"b"}}`,
	`{"Code":{"ZipFile":"AAA"}}`,
	`{"Code":{"ZipFile":"AA==AA=="}}`,
	`{"Code":{"ZipFile":"AA\nAA"}}`,
	`{"Code":{"ZipFile":"AA\\nAA"}}`,
	`{"Code":{"ZipFile":12}}`,
	`{"Code":{"ZipFile":""}}`,
	`{"Code":{"ZipFile":"AAAA"`,
	`{"Code":{"Zip\u0046ile":"AAAA"}}`,
	`{"Environment":{"Variables":{"A":"\"}{"}},"Code":{"ZipFile":"AAAA"}}`,
	`{"Layers":[{"Code":{"ZipFile":"AAAA"}}],"Code":{}}`,
	`[{"Code":{"ZipFile":"AAAA"}}]`,
	`{"Code":{"ZipFile":"\ud83d\ude00"}}`,
	`{"Code":{"ZipFile":"AA\x01A"}}`,
	``, `null`, `{`, `}}}`, `"x"`,
}

func TestZipFileSplitterMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, doc := range splitterSeeds {
		sameAsEncodingJSON(t, []byte(doc))
	}
	// A package of some size, with escaped slashes as some encoders
	// write them.
	pkg := bytes.Repeat([]byte{0, 1, 2, 250, 251, 252, 253, 254, 255}, 10000)
	enc := strings.ReplaceAll(base64.StdEncoding.EncodeToString(pkg), "/", `\/`)
	var req createFunctionRequest
	zip, err := splitForTest([]byte(`{"FunctionName":"f","Code":{"ZipFile":"`+enc+`"}}`), []string{"Code", "ZipFile"}, &req)
	if err != nil || !bytes.Equal(zip, pkg) || req.FunctionName != "f" {
		t.Errorf("split of a %d-byte package: %d bytes back, equal %v, FunctionName %q, err %v", len(pkg), len(zip), bytes.Equal(zip, pkg), req.FunctionName, err)
	}
}

// TestZipFileSplitterBoundsTheRest: the members other than ZipFile may not
// grow without bound, while ZipFile may be as large as the body.
func TestZipFileSplitterBoundsTheRest(t *testing.T) {
	t.Parallel()
	big := base64.StdEncoding.EncodeToString(make([]byte, 3*maxRequestMembers))
	var req createFunctionRequest
	if _, err := splitForTest([]byte(`{"Code":{"ZipFile":"`+big+`"}}`), []string{"Code", "ZipFile"}, &req); err != nil {
		t.Errorf("a ZipFile of %d characters: %v", len(big), err)
	}
	if _, err := splitForTest([]byte(`{"Description":"`+big+`"}`), []string{"Code", "ZipFile"}, &req); !errors.Is(err, errMembersTooLarge) {
		t.Errorf("a Description of %d characters: %v; want errMembersTooLarge", len(big), err)
	}
}

func FuzzZipFileSplitter(f *testing.F) {
	for _, s := range splitterSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		sameAsEncodingJSON(t, doc)
	})
}
