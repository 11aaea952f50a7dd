package errenvelope

// The error_catalog handler (SPEC §16.1): the contract of the running
// config's error_envelope handlers, served live next to the API, as the
// reference page, the json export or the openapi document.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	caddy.RegisterModule(new(CatalogHandler))
	httpcaddyfile.RegisterHandlerDirective("error_catalog", parseCatalogCaddyfile)
	// Among the handlers that answer a request themselves, as metrics does.
	httpcaddyfile.RegisterDirectiveOrder("error_catalog", httpcaddyfile.After, "metrics")
}

// CatalogHandler serves the error contract of the config it is part of:
// the reference page of `caddy error-catalog --format html`, or to a
// client whose Accept prefers application/json the json export, or the
// format ?format names (json, markdown, openapi, html). Each is built once, at the first
// request, from the running error_envelope handlers, and sent with an
// ETag; a request with a matching If-None-Match gets 304.
//
//	error_catalog [<name>...]
//
// With names, only the error_envelope handlers of those names; without,
// every one in the config.
type CatalogHandler struct {
	// Names of the error_envelope handlers (their `name`) whose contract is
	// served. Default: every error_envelope handler of the config.
	Names []string `json:"names,omitempty"`

	ctx  caddy.Context
	once sync.Once
	docs map[string]*servedDoc // by format
	err  error
}

// servedDoc is one rendered document, with what its response says of it.
type servedDoc struct {
	body        []byte
	contentType string
	etag        string
}

// CaddyModule returns the Caddy module information.
func (*CatalogHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.error_catalog",
		New: func() caddy.Module { return new(CatalogHandler) },
	}
}

// Provision keeps the config's context: the handlers it reads are
// provisioned by the time the first request comes.
func (c *CatalogHandler) Provision(ctx caddy.Context) error {
	c.ctx = ctx
	return nil
}

// Validate checks the names.
func (c *CatalogHandler) Validate() error {
	for i, n := range c.Names {
		if strings.TrimSpace(n) == "" {
			return fmt.Errorf("names[%d]: empty name", i)
		}
		if slices.Contains(c.Names[:i], n) {
			return fmt.Errorf("names[%d]: %q named twice", i, n)
		}
	}
	return nil
}

// ServeHTTP sends the document the request asks for.
func (c *CatalogHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return caddyhttp.Error(http.StatusMethodNotAllowed, fmt.Errorf("error_catalog: method %s", r.Method))
	}
	docs, err := c.documents()
	if err != nil {
		return caddyhttp.Error(http.StatusInternalServerError, err)
	}
	format := r.URL.Query().Get("format")
	switch {
	case format != "":
		if docs[format] == nil {
			return caddyhttp.Error(http.StatusBadRequest, fmt.Errorf("error_catalog: format %q: want json, markdown, openapi or html", format))
		}
	case acceptQ(r.Header["Accept"], "application", "json") > acceptQ(r.Header["Accept"], "text", "html"):
		format = "json"
	default:
		format = "html"
	}
	doc := docs[format]
	hdr := w.Header()
	hdr.Set("Etag", doc.etag)
	hdr.Set("Cache-Control", "no-cache") // a reload may change it: revalidate
	hdr.Add("Vary", "Accept")
	hdr.Set("X-Content-Type-Options", "nosniff")
	if format == "html" {
		hdr.Set("Content-Security-Policy", pageCSP)
	}
	if etagMatches(r.Header.Get("If-None-Match"), doc.etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	hdr.Set("Content-Type", doc.contentType)
	hdr.Set("Content-Length", strconv.Itoa(len(doc.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, err = w.Write(doc.body)
	}
	return err
}

// documents renders the contract of the named handlers (all, without
// names) of the running config in every format, once.
func (c *CatalogHandler) documents() (map[string]*servedDoc, error) {
	c.once.Do(func() {
		all := contractOfContext(c.ctx)
		picked := all
		if len(c.Names) > 0 {
			picked.Handlers = nil
			for _, n := range c.Names {
				i := slices.IndexFunc(all.Handlers, func(hc handlerContract) bool { return hc.Name == n })
				if i < 0 {
					c.err = fmt.Errorf("error_catalog: no error_envelope handler is named %q", n)
					return
				}
				picked.Handlers = append(picked.Handlers, all.Handlers[i])
			}
		}
		c.docs = map[string]*servedDoc{}
		for format := range exportFormats {
			body, err := render(picked, format)
			if err != nil {
				c.err = err
				return
			}
			sum := sha256.Sum256(body)
			c.docs[format] = &servedDoc{body: body, contentType: exportFormats[format], etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		}
	})
	return c.docs, c.err
}

// etagMatches reports whether an If-None-Match value names etag (weak
// comparison, as RFC 9110 says for If-None-Match), or is "*".
func etagMatches(inm, etag string) bool {
	for inm != "" {
		var tag string
		tag, inm, _ = strings.Cut(inm, ",")
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}

func parseCatalogCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var c CatalogHandler
	err := c.UnmarshalCaddyfile(h.Dispenser)
	return &c, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	error_catalog [<matcher>] [<name>...]
func (c *CatalogHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive's name
	c.Names = append(c.Names, d.RemainingArgs()...)
	if d.NextBlock(0) {
		return d.Errf("error_catalog takes no block: name the handlers as its arguments")
	}
	if err := c.Validate(); err != nil {
		return d.Errf("error_catalog: %v", err)
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*CatalogHandler)(nil)
	_ caddy.Validator             = (*CatalogHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*CatalogHandler)(nil)
	_ caddyfile.Unmarshaler       = (*CatalogHandler)(nil)
)
