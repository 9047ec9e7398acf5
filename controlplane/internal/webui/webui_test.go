package webui

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func testBuild() fstest.MapFS {
	return fstest.MapFS{
		"index.html":           {Data: []byte("<!doctype html><script type=module src=/assets/index-abc.js></script>")},
		"assets/index-abc.js":  {Data: []byte(strings.Repeat("console.log('ferry');\n", 100))},
		"assets/index-abc.css": {Data: []byte("body{}")},
		"README.md":            {Data: []byte("not served")},
	}
}

func TestServe(t *testing.T) {
	h, err := NewFS(testBuild())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, encoding string
		wantStatus                   int
		wantType, wantCache, wantIn  string
		wantGzip                     bool
	}{
		{"index", "GET", "/", "", 200, "text/html; charset=utf-8", "no-cache", "<!doctype html>", false},
		{"client route", "GET", "/runs/0193b2c4-0000-7000-8000-000000000001", "", 200, "text/html; charset=utf-8", "no-cache", "<!doctype html>", false},
		{"asset", "GET", "/assets/index-abc.js", "", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "console.log", false},
		{"asset gzip", "GET", "/assets/index-abc.js", "br, gzip", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "console.log", true},
		{"gzip refused", "GET", "/assets/index-abc.js", "gzip;q=0", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "console.log", false},
		{"missing asset", "GET", "/assets/index-old.js", "", 404, "", "", "", false},
		{"missing file", "GET", "/favicon.png", "", 404, "", "", "", false},
		{"readme hidden", "GET", "/README.md", "", 404, "", "", "", false},
		{"traversal", "GET", "/assets/../../webui.go", "", 404, "", "", "", false},
		{"unknown api", "GET", "/ferry.v1.NoService/Call", "", 404, "", "", "", false},
		{"post", "POST", "/", "", 405, "", "", "", false},
		{"head", "HEAD", "/", "", 200, "text/html; charset=utf-8", "no-cache", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.encoding != "" {
				req.Header.Set("Accept-Encoding", tt.encoding)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if got := res.Header.Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy %q", got)
			}
			if tt.wantStatus != 200 {
				return
			}
			if got := res.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type %q, want %q", got, tt.wantType)
			}
			if got := res.Header.Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("Cache-Control %q, want %q", got, tt.wantCache)
			}
			var body io.Reader = res.Body
			if gz := res.Header.Get("Content-Encoding") == "gzip"; gz != tt.wantGzip {
				t.Fatalf("gzip %v, want %v", gz, tt.wantGzip)
			} else if gz {
				zr, err := gzip.NewReader(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				body = zr
			}
			b, err := io.ReadAll(body)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tt.wantIn) {
				t.Errorf("body %.60q does not contain %q", b, tt.wantIn)
			}
		})
	}
}

func TestNotBuilt(t *testing.T) {
	h, err := NewFS(fstest.MapFS{"README.md": {Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if h.Built() {
		t.Fatal("Built() with no index.html")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "make build") {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}
