package errenvelope

// One contract across a fleet (SPEC §16.2): each handler's contract has a
// digest, which the contract_info gauge shows per handler and every export
// states; and Caddy's admin API serves the running config's contract.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
)

func init() {
	caddy.RegisterModule(adminContract{})
}

// digest is the SHA-256 of the handler's object in the json export,
// written compactly as the export writes it (<, > and & as they are),
// less the members that say where the contract is kept rather than what
// clients receive: label, server and catalogs (and digest itself). Two
// instances with the same digest send the same codes, messages and
// members for the same responses, whether their catalogs are files or
// inline. docs/deployment.md gives the jq line that recomputes it.
func (hc handlerContract) digest() string {
	hc.Label, hc.Server, hc.Catalogs, hc.Digest = "", "", nil, "" // all omitempty: left out
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(hc); err != nil {
		return ""
	}
	sum := sha256.Sum256(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// newContractInfo is the gauge of the running handlers' contracts: one
// series per handler, whose value is 1, labelled by its digest.
func newContractInfo() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "caddy",
		Subsystem: "http_error_envelope",
		Name:      "contract_info",
		Help:      "The error contract of each error_envelope handler of the running config, by route (the handler's name) and digest (SHA-256 of its json export); always 1.",
	}, []string{"route", "digest"})
}

// adminContract is Caddy's admin API's view of the running config's
// error contract: GET /error-envelope/contract[?format=json|markdown|openapi|html],
// the same documents as `caddy error-catalog` prints for that config.
type adminContract struct{}

// CaddyModule returns the Caddy module information.
func (adminContract) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "admin.api.error_envelope",
		New: func() caddy.Module { return adminContract{} },
	}
}

// Routes returns the admin API's route of the contract.
func (adminContract) Routes() []caddy.AdminRoute {
	return []caddy.AdminRoute{{Pattern: "/error-envelope/contract", Handler: caddy.AdminHandlerFunc(serveContract)}}
}

func serveContract(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return caddy.APIError{HTTPStatus: http.StatusMethodNotAllowed, Err: fmt.Errorf("method %s not allowed", r.Method)}
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	contentType, ok := exportFormats[format]
	if !ok {
		return caddy.APIError{HTTPStatus: http.StatusBadRequest, Err: fmt.Errorf("format %q: want json, markdown, openapi or html", format)}
	}
	body, err := render(contractOfContext(caddy.ActiveContext()), format)
	if err != nil {
		return caddy.APIError{HTTPStatus: http.StatusInternalServerError, Err: err}
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if format == "html" {
		w.Header().Set("Content-Security-Policy", pageCSP) // on the origin that can POST /load
	}
	if r.Method == http.MethodGet {
		_, err = w.Write(body)
	}
	return err
}

// Interface guards
var _ caddy.AdminRouter = adminContract{}
