package errenvelope

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
)

// The statuses this handler can examine: a status spec always lies within
// them, and the lookup tables below are indexed by status-minStatus.
const (
	minStatus = 400
	maxStatus = 599
	numStatus = maxStatus - minStatus + 1
)

// statusSpec is one parsed <spec>: a status (404), a class (4xx) or an
// inclusive range (500-599), always within 400–599.
type statusSpec struct {
	lo, hi int
	class  bool
}

// parseStatusSpec parses a status spec as written in the configuration.
func parseStatusSpec(s string) (statusSpec, error) {
	bad := func(why string) (statusSpec, error) {
		return statusSpec{}, fmt.Errorf("invalid status %q: %s", s, why)
	}
	if len(s) == 3 && (s[1] == 'x' || s[1] == 'X') && (s[2] == 'x' || s[2] == 'X') {
		switch s[0] {
		case '4':
			return statusSpec{lo: 400, hi: 499, class: true}, nil
		case '5':
			return statusSpec{lo: 500, hi: 599, class: true}, nil
		}
		return bad("a class must be 4xx or 5xx")
	}
	parse := func(part string) (int, error) {
		if len(part) != 3 {
			return 0, fmt.Errorf("want a three-digit status, a class like 4xx, or a range like 500-599")
		}
		n, err := strconv.Atoi(part)
		if err != nil || part[0] == '+' || part[0] == '-' {
			return 0, fmt.Errorf("want a three-digit status, a class like 4xx, or a range like 500-599")
		}
		if n < minStatus || n > maxStatus {
			return 0, fmt.Errorf("status must be within %d-%d", minStatus, maxStatus)
		}
		return n, nil
	}
	if from, to, ok := strings.Cut(s, "-"); ok {
		lo, err := parse(from)
		if err != nil {
			return bad(err.Error())
		}
		hi, err := parse(to)
		if err != nil {
			return bad(err.Error())
		}
		if lo > hi {
			return bad("range runs backwards")
		}
		return statusSpec{lo: lo, hi: hi}, nil
	}
	n, err := parse(s)
	if err != nil {
		return bad(err.Error())
	}
	return statusSpec{lo: n, hi: n}, nil
}

// narrowerThan orders specs by specificity: an exact status beats a range,
// a narrower range beats a wider one, and a range beats a class.
func (s statusSpec) narrowerThan(o statusSpec) bool {
	if s.class != o.class {
		return !s.class
	}
	return s.hi-s.lo < o.hi-o.lo
}

// statusSet answers "is this status examined?" with one array index.
type statusSet [numStatus]bool

func (s *statusSet) add(spec statusSpec) {
	for st := spec.lo; st <= spec.hi; st++ {
		s[st-minStatus] = true
	}
}

func (s *statusSet) empty() bool { return *s == statusSet{} }

func (s *statusSet) has(status int) bool {
	return status >= minStatus && status <= maxStatus && s[status-minStatus]
}

// statusRule is a compiled map_status line, or a `statuses` spec of a
// catalog entry.
type statusRule struct {
	spec  statusSpec
	code  string
	msg   template      // the line's own message; empty for catalog rules
	entry *catalogEntry // the catalog entry of a catalog rule, else nil
}

// codeRule is a compiled map_code line, or an `upstream_codes` member of a
// catalog entry.
type codeRule struct {
	code    string
	codeBox any // code as an interface value, made once for the placeholder
	msg     template
	entry   *catalogEntry
}

// errorMap holds the operator's rules, compiled for constant-time lookup.
type errorMap struct {
	// byStatus[status-400] is the most specific map_status rule for a
	// status, or nil.
	byStatus [numStatus]*statusRule
	byCode   map[string]*codeRule
	prefix   string
	catalog  *catalog // nil without catalogs
}

func compileErrorMap(statusRules []StatusRule, codeRules []CodeRule, prefix string, cat *catalog) (*errorMap, error) {
	m := &errorMap{prefix: prefix, catalog: cat}
	seen := make(map[statusSpec]bool, len(statusRules))
	for i, r := range statusRules {
		spec, err := parseStatusSpec(r.Status)
		if err != nil {
			return nil, optionErr("map_status", i, "map_status #%d: %w", i+1, err)
		}
		if r.ErrorCode == "" {
			return nil, optionErr("map_status", i, "map_status %s: error_code is empty", r.Status)
		}
		if seen[spec] {
			return nil, optionErr("map_status", i, "map_status %s: duplicate rule for the same statuses", r.Status)
		}
		seen[spec] = true
		m.addStatusRule(&statusRule{spec: spec, code: r.ErrorCode, msg: newTemplate(r.ErrorMsg)})
	}
	m.byCode = make(map[string]*codeRule, len(codeRules))
	for i, r := range codeRules {
		if r.UpstreamCode == "" {
			return nil, optionErr("map_code", i, "map_code: upstream code is empty")
		}
		if r.ErrorCode == "" {
			return nil, optionErr("map_code", i, "map_code %s: error_code is empty", r.UpstreamCode)
		}
		if _, dup := m.byCode[r.UpstreamCode]; dup {
			return nil, optionErr("map_code", i, "map_code %s: duplicate rule for the same upstream code", r.UpstreamCode)
		}
		m.byCode[r.UpstreamCode] = &codeRule{code: r.ErrorCode, codeBox: r.ErrorCode, msg: newTemplate(r.ErrorMsg)}
	}
	if cat != nil {
		// After the handler's own rules: at equal specificity its lines
		// win, and its map_code lines come first.
		for _, e := range cat.entries {
			for _, s := range e.statuses {
				spec, _ := parseStatusSpec(s) // checked when the catalog loaded
				m.addStatusRule(&statusRule{spec: spec, code: e.code, entry: e})
			}
			for _, up := range e.upstreamCodes {
				if _, mine := m.byCode[up]; !mine {
					m.byCode[up] = &codeRule{code: e.code, codeBox: e.code, entry: e}
				}
			}
		}
	}
	if len(m.byCode) == 0 {
		m.byCode = nil
	}
	return m, nil
}

// addStatusRule makes rule the rule of each of its statuses that has no
// rule yet or only a strictly wider one: at equal specificity the rule
// added first wins.
func (m *errorMap) addStatusRule(rule *statusRule) {
	for st := rule.spec.lo; st <= rule.spec.hi; st++ {
		if cur := m.byStatus[st-minStatus]; cur == nil || rule.spec.narrowerThan(cur.spec) {
			m.byStatus[st-minStatus] = rule
		}
	}
}

// fallbackCode is step 4 of the code choice: <prefix>.<status as 4 digits>.
func (m *errorMap) fallbackCode(status int) string {
	return fmt.Sprintf("%s.%04d", m.prefix, status)
}

// reasonPhrase is the last resort for error_msg.
func reasonPhrase(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

// ruleEntry is the catalog entry whose message a catalog rule gives for
// status: the entry of the rule's code for that status, else the rule's
// own. Nil for the handler's own rules.
func (m *errorMap) ruleEntry(e *catalogEntry, status int) *catalogEntry {
	if e == nil {
		return nil
	}
	return m.catalog.entryOr(e.code, status, e)
}

// codeAllowed reports whether an upstream's own error_code may be kept
// (step 2 of the code choice).
func (p *policy) codeAllowed(code string) bool {
	return (p.codeRE == nil || p.codeRE.MatchString(code)) && (!p.unknown || p.rules.catalog.has(code))
}

// ruleText renders a rule's message: its own, else its catalog entry's in
// the client's language. lang is the Content-Language of a localized
// message, "" otherwise.
func (p *policy) ruleText(own template, entry *catalogEntry, r *http.Request, repl *caddy.Replacer) (msg, lang string) {
	if msg, _ := p.textIn(own, "", repl); msg != "" {
		return msg, ""
	}
	if entry != nil {
		t, lang := entry.message(r)
		return p.textIn(t, lang, repl)
	}
	return "", ""
}

// textIn renders and cleans a configured message in language lang. A
// message that cleans to nothing does not count, and has no language.
func (p *policy) textIn(t template, lang string, repl *caddy.Replacer) (string, string) {
	if t.s == "" {
		return "", ""
	}
	msg := p.cleanMessage(t.render(repl))
	if msg == "" {
		return "", ""
	}
	return msg, lang
}

// choose picks error_code and error_msg for a rewritten response (§4,
// §10.2) into d, from what the upstream said (zero for gateway errors and
// bodies that say nothing usable), the operator's rules and the catalog,
// and the problem type that goes with them. When the response takes
// nothing from the upstream, d.body is the status's envelope (or problem
// details), assembled from parts encoded once at load.
func (p *policy) choose(d *decision, up upstreamWords, r *http.Request, repl *caddy.Replacer) {
	m := p.rules
	status := d.status
	res := p.resolution(status)
	var rule *codeRule
	if up.code != "" && m.byCode != nil {
		rule = m.byCode[up.code]
	}
	var via *catalogEntry // the catalog entry the message comes from
	fromStatus := false
	switch {
	case rule != nil:
		d.code, d.codeBox, via = rule.code, rule.codeBox, m.ruleEntry(rule.entry, status)
		d.msg, d.lang = p.ruleText(rule.msg, via, r, repl)
	case up.errorCode != "" && p.codeAllowed(up.errorCode):
		d.code = up.errorCode
	default:
		d.code, d.codeBox, fromStatus, via = res.code, res.codeBox, true, res.entry
	}
	if fromStatus {
		d.typ = res.typ
	} else {
		d.typ = p.problemType(d.code, status, via)
	}
	if d.msg == "" && up.msg != "" && p.upstreamOK.has(status) {
		d.msg = p.upstreamText(d, up.msg)
	}
	if d.msg == "" && fromStatus {
		if s := res.static; s != nil {
			var i int
			i, d.lang = s.pick(r)
			d.msg, d.static, d.staticIdx = s.msgs[i], s, i
			if d.format != formatGRPC {
				d.body, d.length = s.body(i, d.format, d.requestID)
			}
			return
		}
		d.msg, d.lang = p.ruleText(res.own, res.entry, r, repl)
	}
	if d.msg == "" && !fromStatus {
		p.codeMessage(d, res, r, repl)
	}
	if d.msg == "" {
		d.msg = reasonPhrase(status)
	}
}

// codeMessage is error_msg steps 3–4 for a code that the status did not
// choose: the message belongs to the code, so the catalog's message of
// the code, else the status's rule's, else the reason phrase (§10.2).
func (p *policy) codeMessage(d *decision, res *resolution, r *http.Request, repl *caddy.Replacer) {
	m := p.rules
	d.msg, d.lang = p.ruleText(template{}, m.catalog.entryFor(d.code, d.status), r, repl)
	if d.msg == "" && res.rule != nil {
		d.msg, d.lang = p.ruleText(res.rule.msg, m.ruleEntry(res.rule.entry, d.status), r, repl)
	}
	if d.msg == "" {
		d.msg = reasonPhrase(d.status)
	}
}

// upstreamText is an upstream's message as a client may get it: scrubbed
// (§14), then cleaned and cut, so no part of a secret survives a cut. A
// withheld message is "", which does not count.
func (p *policy) upstreamText(d *decision, text string) string {
	text, found := p.scrub.scrub(text, p.scrub.on)
	d.scrubbed |= found
	if text == "" {
		return ""
	}
	return p.cleanMessage(text)
}
