package errenvelope

// The policy: the configuration compiled once, when it loads. Everything
// that asks "which code and message for status S" (a response's decision,
// the configuration checks, the static envelopes, the export) reads the
// same tables here; nothing works it out a second time.

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// policy is one handler's compiled configuration. It is immutable once
// built, but for memos of what request header values chose (Accept here,
// languages in the catalog's language sets): requests only read it.
type policy struct {
	examined statusSet // the statuses whose responses are examined
	rules    *errorMap // map_status, map_code and catalog rules
	// resolved[status-400] is what each status gives when the upstream
	// gives no code of its own (§4 steps 3–4, §10.2).
	resolved   [numStatus]resolution
	codeRE     *regexp.Regexp // nil without code_pattern
	upstreamOK statusSet      // statuses whose upstream message may be used
	requestID  template       // empty when request_id is off
	fields     []compiledField
	// grpcMetadata are the fields without placeholders, for the ErrorInfo
	// of gRPC answers; nil when there are none.
	grpcMetadata map[string]string
	maxBody      int
	maxMessage   int
	keepBody     int
	gateway      bool   // gateway_errors on
	problem      bool   // problem_details on
	typeBase     string // type_base: a problem type is typeBase#code; "" for about:blank
	report       bool   // mode report
	unknown      bool   // unknown_codes rewrite
	scrub        scrubber
	// The only parts of the policy that change, and only as memos:
	// accepts remembers which Accept values prefer problem details;
	// grpcDetails the grpc-status-details-bin of static envelopes (§15.1)
	// by what else they say, the request's host and Retry-After.
	accepts     choiceCache[string, int]
	grpcDetails choiceCache[detailsKey, string]
}

// Where a code comes from: the `source` of the export's rows.
const (
	sourceCatalog   = "catalog"
	sourceMapStatus = "map_status"
	sourceMapCode   = "map_code"
	sourceFallback  = "fallback"
)

// resolution is what one status gives a response whose body gives no
// code: the code, the rule that chose it (nil for the fallback code) and
// where its message comes from, in order: the rule's own message, then
// a catalog entry's (the rule's entry, else the code's entry for the
// status), then the reason phrase.
type resolution struct {
	code    string
	codeBox any    // code as an interface value, made once for the placeholder
	source  string // map_status, catalog or fallback
	rule    *statusRule
	own     template
	entry   *catalogEntry // nil when the catalog has nothing to say
	typ     string        // the problem type that goes with the code
	// static is the envelope, encoded once, when nothing in it depends on
	// the request but the client's language and its request ID; else nil.
	static *staticEnvelope
}

// configError is a configuration error about one option (the index-th
// line of a repeatable one): the Caddyfile reports it at that line.
type configError struct {
	option string
	index  int
	err    error
}

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// optionErr is a configError about the index-th line of option.
func optionErr(option string, index int, format string, args ...any) error {
	return &configError{option: option, index: index, err: fmt.Errorf(format, args...)}
}

// compile reads the handler's catalogs and compiles its configuration
// into h.policy, checking every option, as Provision does.
func (h *Handler) compile() error {
	cat, err := loadSources(sourcesOf(h.Catalogs, h.InlineCatalogs))
	if err != nil {
		return err
	}
	p, err := compilePolicy(h, cat, true)
	if err != nil {
		return err
	}
	h.policy = p
	return nil
}

// checkSyntax runs every check that needs no file: what `caddy adapt`
// can already reject.
func (h *Handler) checkSyntax() error {
	_, err := compilePolicy(h, nil, false)
	return err
}

// compilePolicy checks h's options and compiles them with the catalog
// cat. Without the catalogs read (loaded false, at adapt), the checks
// that need them are left for load.
func compilePolicy(h *Handler, cat *catalog, loaded bool) (*policy, error) {
	p := &policy{}
	specs := h.Statuses
	if len(specs) == 0 {
		specs = []string{"4xx", "5xx"}
	}
	for i, raw := range specs {
		spec, err := parseStatusSpec(raw)
		if err != nil {
			return nil, optionErr("statuses", i, "statuses: %w", err)
		}
		p.examined.add(spec)
	}
	prefix := h.CodePrefix
	if prefix == "" {
		prefix = defaultCodePrefix
	}
	var err error
	if p.rules, err = compileErrorMap(h.MapStatus, h.MapCode, prefix, cat); err != nil {
		return nil, err
	}
	switch h.UnknownCodes {
	case "", "pass":
	case "rewrite":
		p.unknown = true
		if len(h.Catalogs)+len(h.InlineCatalogs) == 0 {
			return nil, optionErr("unknown_codes", 0, "unknown_codes rewrite: needs a catalog, the list of known codes")
		}
	default:
		return nil, optionErr("unknown_codes", 0, "unknown_codes %q: must be pass or rewrite", h.UnknownCodes)
	}
	if p.upstreamOK, err = upstreamPolicy(h.UpstreamMessage); err != nil {
		return nil, optionErr("upstream_message", 0, "%w", err)
	}
	if h.CodePattern != "" {
		if p.codeRE, err = regexp.Compile(h.CodePattern); err != nil {
			return nil, optionErr("code_pattern", 0, "code_pattern %q: %w", h.CodePattern, err)
		}
	}
	if h.TypeBase != "" {
		u, err := url.Parse(h.TypeBase)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" || strings.ContainsAny(h.TypeBase, " #") {
			return nil, optionErr("type_base", 0, "type_base %q: want an absolute http or https URL without a fragment", h.TypeBase)
		}
		if u.User != nil { // it goes into every problem body
			return nil, optionErr("type_base", 0, "type_base %q: a user name or password has no place in a public URL", h.TypeBase)
		}
		p.typeBase = h.TypeBase
	}
	p.requestID = newTemplate(h.RequestID)
	seen := map[string]bool{"error_msg": true, "error_code": true, "request_id": true}
	for i, f := range h.Fields {
		if f.Name == "" {
			return nil, optionErr("field", i, "field: name is empty")
		}
		if seen[f.Name] {
			return nil, optionErr("field", i, "field %q: name already used by the envelope or another field", f.Name)
		}
		seen[f.Name] = true
		cf := compileField(f)
		p.fields = append(p.fields, cf)
		if !cf.value.dynamic { // the template's own test for placeholders
			if p.grpcMetadata == nil {
				p.grpcMetadata = map[string]string{}
			}
			p.grpcMetadata[f.Name] = f.Value
		}
	}
	switch {
	case h.MaxBody == 0:
		p.maxBody = defaultMaxBody
	case h.MaxBody < 0 || h.MaxBody > maxMaxBody:
		return nil, optionErr("max_body", 0, "max_body %d: must be between 1 byte and 1 GiB", h.MaxBody)
	default:
		p.maxBody = int(h.MaxBody)
	}
	switch {
	case h.MaxMessage == 0:
		p.maxMessage = defaultMaxMessage
	case h.MaxMessage < 0:
		return nil, optionErr("max_message", 0, "max_message %d: must be positive", h.MaxMessage)
	default:
		p.maxMessage = h.MaxMessage
	}
	switch {
	case h.KeepBody < 0:
		return nil, optionErr("keep_body", 0, "keep_body %d: must not be negative", h.KeepBody)
	case h.KeepBody > int64(p.maxBody):
		return nil, optionErr("keep_body", 0, "keep_body %d: must not exceed max_body (%d bytes)", h.KeepBody, p.maxBody)
	}
	p.keepBody = int(h.KeepBody)
	p.problem = h.ProblemDetails
	p.gateway = h.GatewayErrors == nil || *h.GatewayErrors
	switch h.Mode {
	case "", "rewrite":
	case "report":
		p.report = true
	default:
		return nil, optionErr("mode", 0, "mode %q: must be rewrite or report", h.Mode)
	}
	if p.scrub, err = compileScrub(h.Scrub, h.ScrubPatterns); err != nil {
		return nil, err
	}
	p.resolve()
	if err := p.checkPattern(h, loaded); err != nil {
		return nil, err
	}
	if p.unknown && loaded {
		if err := p.checkKnown(h); err != nil {
			return nil, err
		}
	}
	p.encodeStatic()
	return p, nil
}

// maxMaxBody is the most max_body may be.
const maxMaxBody = 1 << 30

// upstreamPolicy parses upstream_message into the statuses it allows.
func upstreamPolicy(policy string) (statusSet, error) {
	var set statusSet
	switch strings.ToLower(policy) {
	case "", "4xx":
		set.add(statusSpec{lo: 400, hi: 499})
	case "5xx":
		set.add(statusSpec{lo: 500, hi: 599})
	case "all":
		set.add(statusSpec{lo: 400, hi: 599})
	case "none":
	default:
		return set, fmt.Errorf("upstream_message %q: must be 4xx, 5xx, all or none", policy)
	}
	return set, nil
}

// resolve works out, once, the code and message of every status for a
// response whose body gives no code.
func (p *policy) resolve() {
	m := p.rules
	for st := minStatus; st <= maxStatus; st++ {
		res := &p.resolved[st-minStatus]
		*res = resolution{}
		r := m.byStatus[st-minStatus]
		switch {
		case r == nil:
			res.code, res.source = m.fallbackCode(st), sourceFallback
		case r.entry != nil:
			res.code, res.source, res.rule = r.code, sourceCatalog, r
		default:
			res.code, res.source, res.rule, res.own = r.code, sourceMapStatus, r, r.msg
		}
		res.codeBox = res.code
		// The message belongs to the code: a catalog rule's entry yields
		// to its code's entry for this status (§10.2).
		if r != nil && r.entry != nil {
			res.entry = m.catalog.entryOr(r.code, st, r.entry)
		} else {
			res.entry = m.catalog.entryFor(res.code, st)
		}
		res.typ = p.problemType(res.code, st, res.entry)
	}
}

// resolution returns what status gives; status is within 400–599.
func (p *policy) resolution(status int) *resolution {
	return &p.resolved[status-minStatus]
}

// checkPattern reports the first code this handler can produce itself
// that code_pattern rejects: clients would then get codes that the
// gateway itself calls non-conforming. Without the catalogs read, the
// fallback codes and catalog codes are left for load.
func (p *policy) checkPattern(h *Handler, loaded bool) error {
	re := p.codeRE
	if re == nil {
		return nil
	}
	fail := func(format string, args ...any) error {
		return optionErr("code_pattern", 0, "code_pattern %q rejects "+format, append([]any{re.String()}, args...)...)
	}
	for _, r := range h.MapStatus {
		if !re.MatchString(r.ErrorCode) {
			return fail("the configured map_status code %q", r.ErrorCode)
		}
	}
	for _, r := range h.MapCode {
		if !re.MatchString(r.ErrorCode) {
			return fail("the configured map_code code %q (for %q)", r.ErrorCode, r.UpstreamCode)
		}
	}
	if !loaded && len(h.Catalogs)+len(h.InlineCatalogs) > 0 {
		return nil // catalog rules may cover the statuses: checked at load
	}
	if cat := p.rules.catalog; cat != nil {
		for _, e := range cat.entries {
			if !re.MatchString(e.code) {
				return fail("the code of %s errors[%d] (code %q)", e.source, e.index, e.code)
			}
		}
	}
	for st := minStatus; st <= maxStatus; st++ {
		if res := p.resolution(st); p.examined.has(st) && res.source == sourceFallback && !re.MatchString(res.code) {
			return fail("the fallback code %q (set code_prefix or map_status)", res.code)
		}
	}
	return nil
}

// checkKnown is the completeness check of unknown_codes rewrite: every
// code the handler itself can send must be in the catalog. It names the
// first one missing, in configuration order.
func (p *policy) checkKnown(h *Handler) error {
	cat := p.rules.catalog
	for i, r := range h.MapStatus {
		if !cat.has(r.ErrorCode) {
			return optionErr("unknown_codes", 0, "unknown_codes rewrite: the map_status %s code %q is not in the catalog", h.MapStatus[i].Status, r.ErrorCode)
		}
	}
	for _, r := range h.MapCode {
		if !cat.has(r.ErrorCode) {
			return optionErr("unknown_codes", 0, "unknown_codes rewrite: the map_code %s code %q is not in the catalog", r.UpstreamCode, r.ErrorCode)
		}
	}
	for st := minStatus; st <= maxStatus; st++ {
		if res := p.resolution(st); p.examined.has(st) && res.source == sourceFallback && !cat.has(res.code) {
			return optionErr("unknown_codes", 0, "unknown_codes rewrite: the fallback code %q of status %d is not in the catalog (add it, or a map_status or catalog statuses rule for %d)", res.code, st, st)
		}
	}
	return nil
}

// encodeStatic encodes, per status, the envelope of a response that takes
// nothing from the upstream (an HTML page, a gateway error), when nothing
// in it depends on the request but the client's language and its request
// ID: whole, and in parts around the request ID.
func (p *policy) encodeStatic() {
	for _, f := range p.fields {
		if f.value.dynamic {
			return
		}
	}
	tail := p.appendFields(nil, nil)
	for st := minStatus; st <= maxStatus; st++ {
		res := p.resolution(st)
		res.static = p.staticFor(st, res, tail)
	}
}

// staticFor encodes the envelope of status st, as choose and ruleText
// would render it, in every language of its message; nil when the
// message depends on the request (placeholders).
func (p *policy) staticFor(st int, res *resolution, tail []byte) *staticEnvelope {
	if res.own.dynamic {
		return nil
	}
	type text struct{ msg, lang string }
	var texts []text
	var langs *langSet
	if msg, _ := p.textIn(res.own, "", nil); msg != "" {
		texts = []text{{msg, ""}}
	} else if e := res.entry; e != nil {
		langs = e.langs
		for i, t := range e.texts {
			if t.dynamic {
				return nil
			}
			lang := ""
			if langs != nil {
				lang = langs.names[i]
			}
			msg, lang := p.textIn(t, lang, nil)
			texts = append(texts, text{msg, lang})
		}
	} else {
		texts = []text{{}}
	}
	s := &staticEnvelope{langs: langs, tail: tail}
	for _, t := range texts {
		msg := t.msg
		if msg == "" {
			msg = reasonPhrase(st)
		}
		head := appendCodeAndMessage([]byte{'{'}, msg, res.code)
		body := append(head[:len(head):len(head)], tail...)
		s.msgs = append(s.msgs, msg)
		s.langNames = append(s.langNames, t.lang)
		s.heads = append(s.heads, head)
		s.bodies = append(s.bodies, body)
		s.lengths = append(s.lengths, strconv.Itoa(len(body)))
		if p.problem {
			s.problems = append(s.problems, appendCodeAndMessage(appendProblemStart(nil, st, msg, res.typ), msg, res.code))
		}
	}
	return s
}
