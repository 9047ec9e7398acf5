// Package webui serves the web UI's production build, embedded into the
// ferry binary, at "/". It answers every GET that no API route claims:
// files of the build by their path, and index.html for any other path so
// the single-page app can route it. It never serves the API itself.
package webui

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed all:dist
var embedded embed.FS

// securityHeaders are set on every answer. The policy allows scripts,
// styles and calls only from this origin: the build has no inline script,
// and React sets styles through the DOM, which the policy permits.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
}

// asset is one file of the build, held in memory with its gzip form.
type asset struct {
	body        []byte
	gzipped     []byte // nil when compression does not pay
	contentType string
	immutable   bool // content-hashed names under assets/ never change
}

// Handler serves the build in fsys, laid out as Vite writes it
// (index.html and assets/).
type Handler struct {
	files map[string]*asset
	index *asset
}

// New returns a Handler for the build embedded into this binary.
func New() (*Handler, error) {
	sub, err := fs.Sub(embedded, "dist")
	if err != nil {
		return nil, fmt.Errorf("webui: %w", err)
	}
	return NewFS(sub)
}

// NewFS returns a Handler for the build in fsys. A build without
// index.html yields a Handler that explains how to build the UI.
func NewFS(fsys fs.FS) (*Handler, error) {
	h := &Handler{files: make(map[string]*asset)}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || p == "README.md" {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		a := &asset{
			body:        body,
			contentType: contentType(p),
			immutable:   strings.HasPrefix(p, "assets/"),
		}
		if compressible(a.contentType) && len(body) > 512 {
			a.gzipped = gzipBytes(body)
		}
		h.files["/"+p] = a
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webui: read build: %w", err)
	}
	h.index = h.files["/index.html"]
	return h, nil
}

// Built reports whether the binary carries a UI build.
func (h *Handler) Built() bool { return h.index != nil }

// notBuilt is the answer of a binary built without the UI.
const notBuilt = "This ferry binary was built without its web UI.\n" +
	"Build it with `make build` (which runs `npm ci && npm run build` in ui/), or use the ferry CLI.\n"

// ServeHTTP serves GET and HEAD; other methods get 405.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.index == nil {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, notBuilt, http.StatusNotFound)
		return
	}
	name := path.Clean("/" + r.URL.Path)
	a, ok := h.files[name]
	switch {
	case ok:
	case strings.HasPrefix(name, "/assets/") || path.Ext(name) != "" || strings.Contains(firstSegment(name), "."):
		// A missing file is a 404, not the app: a stale page asking for an
		// old chunk must fail visibly rather than run HTML as a script, and
		// an unknown API path such as /ferry.v1.NoService/Call is no page.
		http.NotFound(w, r)
		return
	default:
		a = h.index
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	if a.immutable {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	body := a.body
	if a.gzipped != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hdr.Set("Content-Encoding", "gzip")
			body = a.gzipped
		}
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// firstSegment returns the first element of a cleaned absolute path.
func firstSegment(p string) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return seg
}

func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") ||
		strings.Contains(ct, "json") || strings.Contains(ct, "svg")
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	if buf.Len() >= len(b) {
		return nil
	}
	return buf.Bytes()
}
