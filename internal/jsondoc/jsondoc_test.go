package jsondoc

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data, want string // want: the error, "" for none
	}{
		{"object", `{"a": 1}`, ""},
		{"whitespace around", " \n{\"a\": 1}\r\n\t ", ""},
		{"data after", "{\"a\": 1}\n  {}", "parse JSON: line 2, column 3: unexpected data after the thing"},
		{"syntax error", "{\n  \"é\": ,\n}", "parse JSON: line 2, column 8: invalid character ',' looking for beginning of value"},
		{"unclosed", "{\n  \"a\": [1,", "parse JSON: line 2, column 11: unexpected end of document; a bracket or quote is not closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var v any
			err := Decode([]byte(tt.data), &v, "the thing")
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Decode(%q) error = %q, want %q", tt.data, got, tt.want)
			}
		})
	}
}

func TestDecodeKeepsNumbers(t *testing.T) {
	t.Parallel()
	var v any
	if err := Decode([]byte(`{"n": 12345678901234567890}`), &v, "the object"); err != nil {
		t.Fatal(err)
	}
	if n, ok := v.(map[string]any)["n"].(json.Number); !ok || n.String() != "12345678901234567890" {
		t.Errorf("n = %#v, want json.Number 12345678901234567890", v.(map[string]any)["n"])
	}
}

func TestPosition(t *testing.T) {
	t.Parallel()
	data := []byte("ab\nçd€x\n")
	tests := []struct{ offset, line, col int }{
		{-5, 1, 1},
		{0, 1, 1},
		{2, 1, 3},
		{3, 2, 1},
		{5, 2, 2},  // after ç, two bytes
		{9, 2, 4},  // after €, three bytes
		{99, 3, 1}, // clamped to the end
	}
	for _, tt := range tests {
		if line, col := position(data, tt.offset); line != tt.line || col != tt.col {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tt.offset, line, col, tt.line, tt.col)
		}
	}
}

func TestTypeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{"s", "a string"},
		{true, "a boolean"},
		{json.Number("1"), "a number"},
		{int64(1), "a number"},
		{1.5, "a number"},
		{map[string]any{}, "an object"},
		{[]any{}, "a list"},
		{struct{}{}, "a struct {}"},
	}
	for _, tt := range tests {
		if got := TypeName(tt.v); got != tt.want {
			t.Errorf("TypeName(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestJoinKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ base, key, want string }{
		{"", "stages", "stages"},
		{"stages[0]", "name", "stages[0].name"},
		{"a", "$x_1", "a.$x_1"},
		{"a", "1x", `a["1x"]`},
		{"a", "", `a[""]`},
		{"groupWeights", "Integration Test", `groupWeights["Integration Test"]`},
		{"a", "café", `a["café"]`},
	}
	for _, tt := range tests {
		if got := JoinKey(tt.base, tt.key); got != tt.want {
			t.Errorf("JoinKey(%q, %q) = %q, want %q", tt.base, tt.key, got, tt.want)
		}
	}
}

// The fuzz oracle's bounds: decoding is linear work, so a second and a
// generous multiple of the input's size in memory are far above any honest
// run and far below a blow-up.
const (
	fuzzTimeLimit       = time.Second
	fuzzMemoryPerByte   = 200
	fuzzMemoryBaseBytes = 1 << 20
)

// FuzzDecode: Decode accepts exactly what encoding/json calls one valid
// value, its errors say they are about the JSON, and it stays within the
// oracle's time and memory.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `[1, 2]`, "{\n\"a\": }", `{"a":1} x`, `"é`, ``, `  `, `1e999`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		allocated, start := ms.TotalAlloc, time.Now()
		var v any
		err := Decode(data, &v, "the value")
		wall := time.Since(start)
		runtime.ReadMemStats(&ms)
		allocated = ms.TotalAlloc - allocated

		if valid := json.Valid(data); valid != (err == nil) {
			t.Fatalf("Decode(%q) error %v, but json.Valid says %v", data, err, valid)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "parse JSON: ") {
			t.Fatalf("Decode(%q) error %q does not say it is the JSON", data, err)
		}
		if wall > fuzzTimeLimit {
			t.Fatalf("Decode of %d bytes took %v, over the %v limit", len(data), wall, fuzzTimeLimit)
		}
		if limit := uint64(fuzzMemoryBaseBytes + fuzzMemoryPerByte*len(data)); allocated > limit {
			t.Fatalf("Decode of %d bytes allocated %d bytes, over the cap of %d", len(data), allocated, limit)
		}
	})
}
