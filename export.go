package errenvelope

// The effective error contract of a handler (SPEC §10.5): every code a
// client can receive from it, and how that contract is written out as
// JSON, Markdown and OpenAPI 3.1 by `caddy error-catalog`.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// contract is the export of every error_envelope handler of a config.
type contract struct {
	Handlers []handlerContract `json:"handlers"`
}

// handlerContract is what one handler's clients can receive.
type handlerContract struct {
	Label           string          `json:"label"`
	Name            string          `json:"name,omitempty"`
	Server          string          `json:"server"`
	Catalogs        []string        `json:"catalogs,omitempty"`
	Languages       []string        `json:"languages,omitempty"`
	UnknownCodes    string          `json:"unknown_codes"`
	UpstreamMessage string          `json:"upstream_message"`
	CodePattern     string          `json:"code_pattern,omitempty"`
	RequestID       bool            `json:"request_id"`
	ProblemDetails  bool            `json:"problem_details"`
	Fields          []string        `json:"fields,omitempty"`
	Errors          []contractError `json:"errors"`
}

// contractError is one row of the contract: a code, the statuses it comes
// with (statuses and runs like "405-408"; none for map_code rows, which
// apply to whatever status the upstream sent) and its message.
type contractError struct {
	Code          string            `json:"code"`
	Statuses      []string          `json:"statuses"`
	Message       string            `json:"message"`
	Messages      map[string]string `json:"messages,omitempty"`
	Description   string            `json:"description,omitempty"`
	Type          string            `json:"type,omitempty"`
	Source        string            `json:"source"`
	UpstreamCodes []string          `json:"upstream_codes,omitempty"`

	statuses []int // the statuses, before they are written as runs
}

// Messages of rows whose text depends on the response.
const (
	msgReasonPhrase = "(the status's reason phrase)"
	msgUpstreamOr   = "(the upstream's message where upstream_message allows it, else the status's rule or reason phrase)"
)

// contract lists every code a client of h can receive. h is compiled.
func (h *Handler) contract(label, server string) handlerContract {
	m := h.policy.rules
	hc := handlerContract{
		Label: label, Name: h.Name, Server: server, Catalogs: h.Catalogs,
		UnknownCodes: "pass", UpstreamMessage: h.UpstreamMessage,
		CodePattern: h.CodePattern, RequestID: h.RequestID != "", ProblemDetails: h.policy.problem,
	}
	if h.policy.unknown {
		hc.UnknownCodes = "rewrite"
	}
	if hc.UpstreamMessage == "" {
		hc.UpstreamMessage = "4xx"
	}
	for _, f := range h.Fields {
		hc.Fields = append(hc.Fields, f.Name)
	}

	var rows []*contractError
	entryRows := map[*catalogEntry]*contractError{}
	langs := map[string]bool{}
	if m.catalog != nil {
		for _, e := range m.catalog.entries {
			row := &contractError{Code: e.code, Description: e.description, Type: e.typ, Source: sourceCatalog, statuses: []int{e.status}}
			row.Message, row.Messages = entryTexts(e)
			for l := range row.Messages {
				langs[l] = true
			}
			for _, up := range e.upstreamCodes {
				if m.byCode[up].entry == e { // not taken over by a map_code line
					row.UpstreamCodes = append(row.UpstreamCodes, up)
				}
			}
			entryRows[e] = row
			rows = append(rows, row)
		}
	}
	statusRows := map[*statusRule]*contractError{}
	var fallback []int
	for st := minStatus; st <= maxStatus; st++ {
		if !h.policy.examined.has(st) {
			continue
		}
		r := m.byStatus[st-minStatus]
		switch {
		case r != nil && r.entry != nil:
			entryRows[m.ruleEntry(r.entry, st)].addStatus(st)
		case r != nil:
			row := statusRows[r]
			if row == nil {
				row = &contractError{Code: r.code, Source: sourceMapStatus, Message: r.msg.s}
				if row.Message == "" {
					if e := m.catalog.entryFor(r.code, st); e != nil {
						row.Message, row.Messages = entryTexts(e)
					}
				}
				statusRows[r] = row
				rows = append(rows, row)
			}
			row.addStatus(st)
		default:
			if e := m.catalog.entryFor(m.fallbackCode(st), st); e != nil {
				entryRows[e].addStatus(st)
			} else {
				fallback = append(fallback, st)
			}
		}
	}
	for _, row := range rows {
		if row.Source == sourceMapStatus && row.Message == "" {
			row.Message = msgReasonPhrase
			if len(row.statuses) == 1 {
				row.Message = reasonPhrase(row.statuses[0])
			}
		}
	}
	codeRows := map[[2]string]*contractError{}
	for _, r := range h.MapCode {
		key := [2]string{r.ErrorCode, r.ErrorMsg}
		row := codeRows[key]
		if row == nil {
			row = &contractError{Code: r.ErrorCode, Source: sourceMapCode, Message: r.ErrorMsg}
			if row.Message == "" {
				row.Message = msgUpstreamOr
				if e := m.catalog.entryFor(r.ErrorCode, 0); e != nil {
					row.Message, row.Messages = entryTexts(e)
				}
			}
			codeRows[key] = row
			rows = append(rows, row)
		}
		row.UpstreamCodes = append(row.UpstreamCodes, r.UpstreamCode)
	}
	for _, run := range runs(fallback) {
		row := &contractError{Source: sourceFallback, Message: msgReasonPhrase, statuses: run}
		if first, last := run[0], run[len(run)-1]; first == last {
			row.Code, row.Message = m.fallbackCode(first), reasonPhrase(first)
		} else {
			row.Code = m.fallbackCode(first) + "…" + m.fallbackCode(last)
		}
		rows = append(rows, row)
	}

	for _, row := range rows {
		sort.Ints(row.statuses)
		row.Statuses = []string{}
		for _, run := range runs(row.statuses) {
			row.Statuses = append(row.Statuses, runName(run))
		}
	}
	// By first status, then code; map_code rows, which have none, last.
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].statuses, rows[j].statuses
		switch {
		case len(a) == 0 || len(b) == 0:
			return len(a) > len(b)
		case a[0] != b[0]:
			return a[0] < b[0]
		}
		return rows[i].Code < rows[j].Code
	})
	hc.Errors = make([]contractError, len(rows))
	for i, row := range rows {
		hc.Errors[i] = *row
	}
	for l := range langs {
		hc.Languages = append(hc.Languages, l)
	}
	sort.Strings(hc.Languages)
	return hc
}

func (row *contractError) addStatus(st int) {
	for _, s := range row.statuses {
		if s == st {
			return
		}
	}
	row.statuses = append(row.statuses, st)
}

// entryTexts returns an entry's message and its translations by language.
func entryTexts(e *catalogEntry) (string, map[string]string) {
	if e.langs == nil {
		return e.texts[0].s, nil
	}
	msgs := map[string]string{}
	for i := 1; i < len(e.texts); i++ {
		msgs[e.langs.names[i][0]] = e.texts[i].s
	}
	return e.texts[0].s, msgs
}

// runs splits sorted statuses into runs of consecutive ones.
func runs(statuses []int) [][]int {
	var out [][]int
	for i := 0; i < len(statuses); {
		j := i + 1
		for j < len(statuses) && statuses[j] == statuses[j-1]+1 {
			j++
		}
		out = append(out, statuses[i:j])
		i = j
	}
	return out
}

func runName(run []int) string {
	if len(run) == 1 {
		return fmt.Sprint(run[0])
	}
	return fmt.Sprintf("%d-%d", run[0], run[len(run)-1])
}

// exportJSON writes the contract as one indented JSON document.
func exportJSON(c contract) ([]byte, error) { return indentedJSON(c) }

// indentedJSON encodes v for people to read: indented, with <, > and &
// as they are.
func indentedJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(v)
	return buf.Bytes(), err
}

// exportMarkdown writes a table per handler, ready for an API's docs.
func exportMarkdown(c contract) []byte {
	var b bytes.Buffer
	b.WriteString("# Error codes\n")
	for _, hc := range c.Handlers {
		fmt.Fprintf(&b, "\n## %s\n\n", mdCell(hc.Label))
		members := []string{"`error_msg`", "`error_code`"}
		if hc.RequestID {
			members = append(members, "`request_id`")
		}
		for _, f := range hc.Fields {
			members = append(members, "`"+mdCell(f)+"`")
		}
		last := len(members) - 1
		fmt.Fprintf(&b, "Every error is a JSON object with the members %s and %s.", strings.Join(members[:last], ", "), members[last])
		if hc.UnknownCodes == "pass" {
			b.WriteString(" Backends may also send codes of their own.")
		} else {
			b.WriteString(" No other codes are sent.")
		}
		b.WriteString("\n\n| Status | Code | Message |")
		for _, l := range hc.Languages {
			fmt.Fprintf(&b, " %s |", mdCell(l))
		}
		b.WriteString(" Description | Source | Upstream codes |\n|---|---|---|")
		b.WriteString(strings.Repeat("---|", len(hc.Languages)))
		b.WriteString("---|---|---|\n")
		for _, e := range hc.Errors {
			statuses := strings.Join(e.Statuses, ", ")
			if statuses == "" {
				statuses = "any"
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s |", statuses, mdCell(e.Code), mdCell(e.Message))
			for _, l := range hc.Languages {
				fmt.Fprintf(&b, " %s |", mdCell(e.Messages[l]))
			}
			var ups []string
			for _, u := range e.UpstreamCodes {
				ups = append(ups, "`"+mdCell(u)+"`")
			}
			fmt.Fprintf(&b, " %s | %s | %s |\n", mdCell(e.Description), e.Source, strings.Join(ups, ", "))
		}
	}
	return b.Bytes()
}

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	s = strings.NewReplacer("|", `\|`, "\r", " ", "\n", " ", "`", "'").Replace(s)
	return s
}

// exportOpenAPI writes an OpenAPI 3.1 document whose components hold, per
// handler, the envelope schema and one response per status (or run of
// statuses) with a named example per code.
func exportOpenAPI(c contract) ([]byte, error) {
	schemas := map[string]any{}
	responses := map[string]any{}
	for _, hc := range c.Handlers {
		prefix := componentName(hc.Label)
		schemaName := prefix + ".Envelope"
		codeSchema := map[string]any{"type": "string", "minLength": 1}
		if hc.UnknownCodes == "rewrite" {
			var codes []string
			seen := map[string]bool{}
			for _, e := range hc.Errors {
				if !seen[e.Code] {
					seen[e.Code] = true
					codes = append(codes, e.Code)
				}
			}
			codeSchema["enum"] = codes
		} else if hc.CodePattern != "" {
			codeSchema["pattern"] = hc.CodePattern
		}
		props := map[string]any{
			"error_msg":  map[string]any{"type": "string", "minLength": 1, "description": "What went wrong, for people."},
			"error_code": codeSchema,
		}
		required := []string{"error_msg", "error_code"}
		if hc.RequestID {
			props["request_id"] = map[string]any{"type": "string", "description": "The request's ID, also in the X-Request-Id header."}
			required = append(required, "request_id")
		}
		for _, f := range hc.Fields {
			props[f] = map[string]any{"type": "string"}
			required = append(required, f)
		}
		schemas[schemaName] = map[string]any{
			"type": "object", "required": required, "properties": props,
			"description": "The error envelope of " + hc.Label + ".",
		}
		ref := map[string]any{"$ref": "#/components/schemas/" + schemaName}
		problemName := prefix + ".Problem"
		problemRef := map[string]any{"$ref": "#/components/schemas/" + problemName}
		for _, e := range hc.Errors {
			keys := e.Statuses
			if len(keys) == 0 {
				keys = []string{"mapped"}
			}
			for _, k := range keys {
				name := prefix + "." + k
				resp, _ := responses[name].(map[string]any)
				if resp == nil {
					content := map[string]any{"application/json": map[string]any{"schema": ref, "examples": map[string]any{}}}
					if hc.ProblemDetails {
						content[problemType] = map[string]any{"schema": problemRef, "examples": map[string]any{}}
					}
					resp = map[string]any{"description": responseDescription(k), "content": content}
					if hc.RequestID {
						resp["headers"] = map[string]any{"X-Request-Id": map[string]any{
							"description": "The request's ID, as in the body's request_id.",
							"schema":      map[string]any{"type": "string"},
						}}
					}
					responses[name] = resp
				}
				content := resp["content"].(map[string]any)
				examples := content["application/json"].(map[string]any)["examples"].(map[string]any)
				exName := componentName(e.Code)
				if _, dup := examples[exName]; dup {
					continue
				}
				// The example's members in the envelope's own order.
				value := append([]byte(`{"error_msg":`), appendJSONString(nil, e.Message)...)
				value = append(append(value, `,"error_code":`...), appendJSONString(nil, e.Code)...)
				if hc.RequestID {
					value = append(value, `,"request_id":"0f8fad5b-d9cb-469f-a165-70867728950e"`...)
				}
				for _, f := range hc.Fields {
					value = append(append(append(value, ','), appendJSONString(nil, f)...), `:"…"`...)
				}
				value = append(value, '}')
				ex := map[string]any{"summary": e.Message, "value": json.RawMessage(value)}
				if e.Description != "" {
					ex["description"] = e.Description
				}
				examples[exName] = ex
				if hc.ProblemDetails {
					var members []byte
					if st, err := strconv.Atoi(k); err == nil {
						members = append([]byte(`{"type":"about:blank","title":`), appendJSONString(nil, reasonPhrase(st))...)
						members = append(append(append(members, `,"status":`...), k...), `,"detail":`...)
					} else {
						members = []byte(`{"type":"about:blank","detail":`)
					}
					members = append(append(appendJSONString(members, e.Message), ','), value[1:]...)
					pex := map[string]any{"summary": e.Message, "value": json.RawMessage(members)}
					content[problemType].(map[string]any)["examples"].(map[string]any)[exName] = pex
				}
			}
		}
		if hc.ProblemDetails {
			schemas[problemName] = map[string]any{
				"allOf": []any{ref, map[string]any{
					"type":     "object",
					"required": []string{"type", "title", "status", "detail"},
					"properties": map[string]any{
						"type":   map[string]any{"type": "string", "format": "uri-reference"},
						"title":  map[string]any{"type": "string"},
						"status": map[string]any{"type": "integer", "minimum": minStatus, "maximum": maxStatus},
						"detail": map[string]any{"type": "string"},
					},
				}},
				"description": "RFC 9457 problem details with the envelope's members, for clients that prefer application/problem+json.",
			}
		}
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "Error responses",
			"version":     "1.0.0",
			"description": "The errors the gateway sends, generated by `caddy error-catalog` from its configuration.",
		},
		"components": map[string]any{"schemas": schemas, "responses": responses},
	}
	return indentedJSON(doc)
}

func responseDescription(key string) string {
	switch {
	case key == "mapped":
		return "Any error status: codes mapped from the code in the upstream's own error body."
	case strings.Contains(key, "-"):
		return "Statuses " + key + "."
	}
	st, _ := strconv.Atoi(key)
	return reasonPhrase(st)
}

// componentName makes a label fit OpenAPI's component names
// (^[a-zA-Z0-9.\-_]+$).
func componentName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
