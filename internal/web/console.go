package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/sluice-cd/sluice/internal/apiclient"
	"github.com/sluice-cd/sluice/internal/apitype"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the console. Its zero value is ready to use.
type Config struct {
	// Logger defaults to one that discards everything.
	Logger *slog.Logger
	// Clock defaults to time.Now; it dates the elapsed times of running
	// stages.
	Clock func() time.Time
}

// Console serves the console's pages and assets.
type Console struct {
	api    *apiclient.Client
	log    *slog.Logger
	now    func() time.Time
	pages  map[string]*template.Template
	assets map[string]asset
	mux    *http.ServeMux
}

// asset is one embedded static file.
type asset struct {
	data        []byte
	contentType string
	hash        string
}

// pageNames are the page templates; each defines "content" and is
// executed inside layout.html.
var pageNames = []string{"applications", "pipeline", "canary-configs", "canary-config", "executions", "execution", "accounts", "functions", "audit", "login", "error"}

// New returns the console. It calls the API through api, the API's
// http.Handler, in-process. It panics if the embedded templates do not
// parse, which only a broken build can cause.
func New(api http.Handler, cfg Config) *Console {
	client, err := apiclient.New("http://localhost",
		apiclient.WithHTTPClient(&http.Client{Transport: inProcess{api: api}}),
		apiclient.WithUserAgent("sluice-console"))
	if err != nil {
		panic(err)
	}
	c := &Console{
		api:    client,
		log:    cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)).With("subsystem", "web"),
		now:    cfg.Clock,
		pages:  map[string]*template.Template{},
		assets: map[string]asset{},
		mux:    http.NewServeMux(),
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.loadAssets()
	base := template.Must(template.New("layout.html").Funcs(c.funcs()).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/rollout.html"))
	for _, name := range pageNames {
		t := template.Must(base.Clone())
		c.pages[name] = template.Must(t.ParseFS(templateFS, "templates/"+name+".html"))
	}

	c.mux.HandleFunc("GET /{$}", c.handle(c.applications))
	c.mux.HandleFunc("GET /applications/{app}", c.handle(c.applications))
	c.mux.HandleFunc("GET /pipelines/{app}/{name}", c.handle(c.pipeline))
	c.mux.HandleFunc("POST /pipelines/{app}/{name}/plan", c.handle(c.planPipeline))
	c.mux.HandleFunc("GET /canary-configs", c.handle(c.canaryConfigs))
	c.mux.HandleFunc("GET /canary-configs/{name}", c.handle(c.canaryConfig))
	c.mux.HandleFunc("GET /executions", c.handle(c.executions))
	c.mux.HandleFunc("GET /executions/{id}", c.handle(c.execution))
	c.mux.HandleFunc("GET /functions", c.handle(c.accounts))
	c.mux.HandleFunc("GET /functions/{account}", c.handle(c.functions))
	c.mux.HandleFunc("GET /audit", c.handle(c.audit))
	c.mux.HandleFunc("GET /login", c.loginPage)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.logout)
	c.mux.HandleFunc("GET /static/{file}", c.serveAsset)
	c.mux.HandleFunc("/", c.handle(func(*http.Request) (*page, error) {
		return nil, &pageError{Status: http.StatusNotFound, Message: "There is no such page."}
	}))
	return c
}

// ServeHTTP serves the console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Everything the pages use comes from this server; no inline script.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.mux.ServeHTTP(w, r.WithContext(withViewer(r.Context(), r)))
}

// page is what a page handler returns: the template to execute and its
// data.
// liveStream is the URL of an event stream that a page follows for its
// live regions. It starts ten thousand event IDs (the most ?tail= takes:
// some 150 engine steps' batches of events) before the newest event: the
// page already shows what is older (the script ignores events from before
// the page), and the margin covers events whose transactions were still
// committing as the page was read.
func liveStream(path string) string { return path + "?tail=10000" }

type page struct {
	Name  string // one of pageNames
	Title string
	// Nav is the navigation entry to mark current.
	Nav string
	// LiveEvents is an event stream URL whose events refresh the page's
	// live regions (see liveStream); LivePoll, when set instead, refreshes
	// them every so many milliseconds.
	LiveEvents string
	LivePoll   int
	Data       any
	Status     int // 0 means 200
}

// pageError is a page handler's error that the viewer should read.
type pageError struct {
	Status  int
	Message string
	Details []apiclient.Detail
}

func (e *pageError) Error() string { return e.Message }

// layoutData is what layout.html executes with.
type layoutData struct {
	*page
	// Session is who is signed in, nil for nobody; the layout shows them
	// with a Sign out form, and gives the script their CSRF token.
	Session *apitype.Session
	// NowMs is the server's time, from which the script derives its
	// clock's offset for elapsed times.
	NowMs  int64
	CSS    string
	Script string
	// Waiting is what waits for the viewer: the manual judgments they may
	// judge; nil when it could not be read.
	Waiting *waitingView
}

// handle adapts a page handler: it finds who is signed in, renders the
// page, or an error page. A viewer who is not signed in, or whose session
// ended, is sent to the login page, which brings them back.
func (c *Console) handle(h func(r *http.Request) (*page, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := c.api.Session(r.Context())
		var p *page
		if err == nil {
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess))
			p, err = h(r)
		}
		var waiting *waitingView
		if err == nil {
			waiting = c.waiting(r.Context(), sess)
		}
		if err != nil {
			if isUnauthenticated(err) {
				http.Redirect(w, r, loginURL(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			p = c.errorPage(r, err)
		}
		c.render(w, r, p, sess, waiting)
	}
}

type sessionKey struct{}

// sessionOf is who is signed in, as handle found; never nil in a page
// handler.
func sessionOf(r *http.Request) *apitype.Session {
	s, _ := r.Context().Value(sessionKey{}).(*apitype.Session)
	if s == nil {
		return &apitype.Session{}
	}
	return s
}

// roleBadges are the roles the layout shows beside the viewer's name: the
// session's, and admin for a principal the policy makes one by name
// (auth.admins) rather than by role.
func roleBadges(s *apitype.Session) []string {
	roles := s.Roles
	if s.Admin && !slices.Contains(roles, "admin") {
		roles = append([]string{"admin"}, roles...)
	}
	return roles
}

// isUnauthenticated reports whether the API answered 401: no session, or
// one that ended.
func isUnauthenticated(err error) bool {
	var e *apiclient.Error
	return errors.As(err, &e) && e.Status == http.StatusUnauthorized
}

// errorPage turns an error into a page that says what went wrong: the
// API's own message for API errors, a generic one for the rest (logged).
func (c *Console) errorPage(r *http.Request, err error) *page {
	pe := &pageError{}
	var apiErr *apiclient.Error
	switch {
	case errors.As(err, &pe):
	case errors.As(err, &apiErr):
		pe = &pageError{Status: apiErr.Status, Message: apiErr.Message, Details: apiErr.Details}
	case errors.Is(err, context.Canceled):
		pe = &pageError{Status: http.StatusServiceUnavailable, Message: "The request was canceled."}
	default:
		c.log.ErrorContext(r.Context(), "render page", "path", r.URL.Path, "err", err)
		pe = &pageError{Status: http.StatusInternalServerError, Message: "The console could not render this page; the server log says why."}
	}
	return &page{
		Name:   "error",
		Title:  http.StatusText(pe.Status),
		Data:   pe,
		Status: pe.Status,
	}
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, p *page, sess *apitype.Session, waiting *waitingView) {
	var buf bytes.Buffer
	data := layoutData{page: p, Session: sess, NowMs: c.now().UnixMilli(), CSS: c.assetURL("console.css"), Script: c.assetURL("console.js"),
		Waiting: waiting}
	if err := c.pages[p.Name].ExecuteTemplate(&buf, "layout.html", data); err != nil {
		c.log.ErrorContext(r.Context(), "execute template", "page", p.Name, "err", err)
		http.Error(w, "the console could not render this page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(cmp.Or(p.Status, http.StatusOK))
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) loadAssets() {
	types := map[string]string{".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		data, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(data)
		c.assets[e.Name()] = asset{
			data:        data,
			contentType: cmp.Or(types[path.Ext(e.Name())], "application/octet-stream"),
			hash:        hex.EncodeToString(sum[:6]),
		}
	}
}

// assetURL is the URL of a static file, versioned by its content so that
// browsers may cache it for good.
func (c *Console) assetURL(name string) string {
	return "/static/" + name + "?v=" + c.assets[name].hash
}

func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := c.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+a.hash+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}

// pathJoin builds a console path from segments, escaping each.
func pathJoin(segs ...string) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(escapeSegment(s))
	}
	return b.String()
}
