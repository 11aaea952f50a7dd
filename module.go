// Package errenvelope is a Caddy HTTP handler that turns every error an API
// gateway returns into one JSON envelope:
//
//	{"error_msg":"Request body is invalid.","error_code":"IAM.0011"}
//
// Errors that already have that shape pass through byte for byte; every
// other error (HTML pages, plain text, foreign JSON, errors of the gateway
// itself) is rewritten, with a code chosen from a configurable error map.
// Successful responses stream through untouched.
package errenvelope

import (
	"encoding/json"
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the options that have one.
const (
	defaultCodePrefix = "GATEWAY"
	defaultMaxBody    = 1 << 20
	defaultMaxMessage = 512
	defaultRequestID  = "{http.request.uuid}"
)

// Handler rewrites error responses (and errors raised by the handlers it
// wraps, such as reverse_proxy's "backend down") into the JSON envelope
// `{"error_msg":"...","error_code":"..."}`. Error responses that already
// carry that envelope pass through byte for byte; successful responses
// stream through untouched and unbuffered.
//
// The `error_code` is, in order: the code of a `map_code` rule matching the
// code found in the upstream body; the upstream's own `error_code` when it
// matches `code_pattern`; the code of the most specific `map_status` rule;
// `<code_prefix>.<status as 4 digits>`. The `error_msg` is, in order: the
// message of the matched `map_code` rule; the upstream's own message when
// `upstream_message` allows it for the status; the message of the matched
// `map_status` rule; the status's reason phrase.
type Handler struct {
	// The response statuses that are examined, as statuses (`404`),
	// classes (`4xx`) or inclusive ranges (`500-599`), all within 400–599.
	// Every other response streams through untouched. Default: `4xx` and `5xx`.
	Statuses []string `json:"statuses,omitempty"`

	// The prefix of the fallback code `<code_prefix>.<status as 4 digits>`,
	// used when no rule gives a code: `GATEWAY.0404`. Default: `GATEWAY`.
	CodePrefix string `json:"code_prefix,omitempty"`

	// Codes (and optionally messages) by response status. The most
	// specific rule for a status applies: an exact status beats a range, a
	// narrower range beats a wider one, a range beats a class; at equal
	// specificity the first rule written wins.
	MapStatus []StatusRule `json:"map_status,omitempty"`

	// Codes (and optionally messages) by the code the upstream put in its
	// error body (`code`, `error_code`, `error.code`, `__type`, …).
	// A match here beats every other way of choosing the code.
	MapCode []CodeRule `json:"map_code,omitempty"`

	// For which statuses the upstream's own error message may reach the
	// client: `4xx` (default), `5xx`, `all` or `none`. The default keeps
	// the internals that server errors tend to describe away from clients.
	UpstreamMessage string `json:"upstream_message,omitempty"`

	// A regular expression (Go syntax, unanchored: write `^` and `$`
	// yourself) that every `error_code` must match. An upstream envelope
	// whose code does not match is rewritten, and an upstream code that
	// does not match is not kept. Configured codes must match it too.
	CodePattern string `json:"code_pattern,omitempty"`

	// When set, every rewritten envelope carries a `request_id` member:
	// the upstream response's `X-Request-Id` header when it has one,
	// otherwise this value (placeholders allowed), which is then also
	// sent as the response's `X-Request-Id` header. The Caddyfile's bare
	// `request_id` sets `{http.request.uuid}`. Default: off.
	RequestID string `json:"request_id,omitempty"`

	// Extra string members added to every rewritten envelope after the
	// standard ones, in this order. Values may use placeholders.
	Fields []Field `json:"fields,omitempty"`

	// The most bytes of an error body held for examination, both before
	// and after undoing its Content-Encoding. A larger error body is
	// rewritten without the upstream's message and the rest of it is
	// discarded. Default: 1 MiB.
	MaxBody int64 `json:"max_body,omitempty"`

	// The most characters of `error_msg`; longer messages are cut.
	// Default: 512.
	MaxMessage int `json:"max_message,omitempty"`

	// Whether errors returned by the wrapped handlers before they wrote a
	// response (reverse_proxy cannot reach or times out on its upstream,
	// the `error` directive, …) are answered with the envelope. When
	// false they are returned untouched, for `handle_errors` to answer.
	// Default: true.
	GatewayErrors *bool `json:"gateway_errors,omitempty"`

	// `rewrite` (default) rewrites non-conforming errors. `report`
	// changes no response at all but logs and counts what `rewrite`
	// would have done, to learn which backends break the envelope
	// contract before turning the rewrite on.
	Mode string `json:"mode,omitempty"`

	// A name for this handler, for people: its title in the output of
	// `caddy error-catalog`, the `route` label of its metrics and the
	// `route` field of its logs. Default: none.
	Name string `json:"name,omitempty"`

	// Error catalogs: JSON or YAML files (by extension) that list the
	// API's error codes, each with its status, message, translations,
	// description, and the upstream codes and statuses it answers for.
	// Catalog `upstream_codes` act as map_code rules after this handler's
	// own, and catalog `statuses` as map_status rules that lose to this
	// handler's own at equal specificity. A message-less rule takes the
	// catalog's message of its code, in the client's language
	// (`X-Language`, else `Accept-Language`). Relative paths are relative
	// to Caddy's working directory. Every file is checked when the
	// configuration loads.
	Catalogs []string `json:"catalogs,omitempty"`

	// Catalogs written into the JSON config itself, each an object with
	// exactly a catalog file's members (`language`, `errors`), checked as
	// files are (errors name `inline_catalogs[i]`, the entry and the
	// member) and joining `catalogs` after them. A config pushed to many
	// instances (the admin API's /load, a config loader) then carries its
	// whole error contract, with no file to distribute.
	InlineCatalogs []json.RawMessage `json:"inline_catalogs,omitempty"`

	// `pass` (default) accepts any upstream error_code. `rewrite` makes
	// the catalogs the whole contract: an upstream envelope whose
	// error_code is not in them is rewritten (reason `unknown_code`), an
	// upstream code outside them is not kept, and every code this
	// handler itself can send must be in them.
	UnknownCodes string `json:"unknown_codes,omitempty"`

	// Whether a client whose Accept ranks `application/problem+json`
	// above `application/json` (by q value) gets errors as RFC 9457
	// problem details carrying the envelope's members:
	// `{"type":…,"title":…,"status":…,"detail":…,"error_msg":…,"error_code":…}`.
	// Every examined response then carries `Vary: Accept`. Default: false.
	ProblemDetails bool `json:"problem_details,omitempty"`

	// The most bytes of an upstream's decoded error body kept, as valid
	// UTF-8, in the `{http.error_envelope.upstream_body}` placeholder and
	// in the debug and report-mode log lines, for the access log
	// (`log_append`) and support: what the client never sees. Its first
	// bytes also when the body is over max_body. At most max_body.
	// Default: 0 (off: nothing of a body is kept past the decision).
	KeepBody int64 `json:"keep_body,omitempty"`

	// The detectors that scrub text coming from an upstream (its message,
	// a conforming envelope's `error_msg`) before it reaches a client:
	// `credentials` (authorization values, JSON Web Tokens, well-known key
	// formats, URL passwords, values of secret-named parameters, PEM
	// private keys), `addresses` (internal IP addresses and host names,
	// with their port), `traces` (stack frames, tracebacks), `sql`
	// (statements and database errors), `emails`, `paths` (absolute file
	// paths). Credentials, addresses, e-mail addresses and paths are
	// replaced by `[REDACTED]`; a trace or SQL withholds the whole message.
	// A conforming envelope with a find is rewritten (reason `scrubbed`)
	// with its own code. keep_body's text goes through `credentials` and
	// the scrub_patterns. `["off"]` turns every detector off; naming
	// detectors replaces the default set. Default: `credentials`,
	// `addresses`, `traces`, `sql`.
	Scrub []string `json:"scrub,omitempty"`

	// The operator's own scrubbing patterns, applied after the detectors
	// wherever they apply (keep_body's text included): each match is
	// replaced by its mark.
	ScrubPatterns []ScrubPattern `json:"scrub_patterns,omitempty"`

	// The address of the error reference (such as error_catalog's page):
	// problem details of a code whose catalog entry has no `type` of its
	// own, and of every code without an entry, get `type`
	// `<type_base>#<error_code>` instead of `about:blank`, so that every
	// problem type leads to its documentation. An absolute http or https
	// URL without a fragment. Default: none.
	TypeBase string `json:"type_base,omitempty"`

	policy   *policy // the configuration, compiled by Provision
	logger   *zap.Logger
	counters *counterSet
}

// StatusRule maps response statuses to an error code and, optionally, a
// message.
type StatusRule struct {
	// A status (`404`), a class (`4xx`) or an inclusive range
	// (`500-599`), within 400–599.
	Status string `json:"status"`
	// The `error_code` for these statuses.
	ErrorCode string `json:"error_code"`
	// The `error_msg` for these statuses (placeholders allowed). When
	// empty, the upstream's message or the reason phrase is used.
	ErrorMsg string `json:"error_msg,omitempty"`
}

// CodeRule maps a code found in the upstream's error body to an error code
// and, optionally, a message.
type CodeRule struct {
	// The code as the upstream writes it, compared exactly.
	UpstreamCode string `json:"upstream_code"`
	// The `error_code` to send instead.
	ErrorCode string `json:"error_code"`
	// The `error_msg` to send (placeholders allowed). When empty, the
	// message is chosen as if no map_code rule had matched.
	ErrorMsg string `json:"error_msg,omitempty"`
}

// Field is an extra string member of the envelope.
type Field struct {
	// The member's name; not `error_msg`, `error_code` or `request_id`.
	Name string `json:"name"`
	// The member's value (placeholders allowed).
	Value string `json:"value"`
}

// ScrubPattern is an operator's scrubbing pattern.
type ScrubPattern struct {
	// A regular expression (Go syntax) that must not match the empty
	// string, like `INT-[0-9]{6}`.
	Pattern string `json:"pattern"`
	// What replaces each match. Default: `[REDACTED]`.
	Mark string `json:"mark,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.error_envelope",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision compiles the configuration once; ServeHTTP only reads it.
func (h *Handler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if err := h.compile(); err != nil {
		return err
	}
	provisioned(ctx)
	return h.registerMetrics(ctx.GetMetricsRegistry())
}

// Validate checks what Provision cannot already have rejected.
func (h *Handler) Validate() error {
	if h.policy == nil {
		return fmt.Errorf("error_envelope was not provisioned")
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)
