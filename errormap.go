package errenvelope

import (
	"fmt"
	"net/http"
	"regexp"
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

func newStatusSet(specs []string) (statusSet, error) {
	var set statusSet
	for _, raw := range specs {
		spec, err := parseStatusSpec(raw)
		if err != nil {
			return set, err
		}
		for st := spec.lo; st <= spec.hi; st++ {
			set[st-minStatus] = true
		}
	}
	return set, nil
}

func (s *statusSet) has(status int) bool {
	return status >= minStatus && status <= maxStatus && s[status-minStatus]
}

// statusRule is a compiled map_status line.
type statusRule struct {
	spec statusSpec
	code string
	msg  template
}

// codeRule is a compiled map_code line.
type codeRule struct {
	code string
	msg  template
}

// errorMap holds the operator's rules, compiled for constant-time lookup.
type errorMap struct {
	// byStatus[status-400] is the most specific map_status rule for a
	// status, or nil.
	byStatus [numStatus]*statusRule
	byCode   map[string]*codeRule
	prefix   string
}

func compileErrorMap(statusRules []StatusRule, codeRules []CodeRule, prefix string) (*errorMap, error) {
	m := &errorMap{prefix: prefix}
	seen := make(map[statusSpec]bool, len(statusRules))
	for i, r := range statusRules {
		spec, err := parseStatusSpec(r.Status)
		if err != nil {
			return nil, fmt.Errorf("map_status #%d: %w", i+1, err)
		}
		if r.ErrorCode == "" {
			return nil, fmt.Errorf("map_status %s: error_code is empty", r.Status)
		}
		if seen[spec] {
			return nil, fmt.Errorf("map_status %s: duplicate rule for the same statuses", r.Status)
		}
		seen[spec] = true
		rule := &statusRule{spec: spec, code: r.ErrorCode, msg: newTemplate(r.ErrorMsg)}
		for st := spec.lo; st <= spec.hi; st++ {
			// Strictly narrower only: at equal specificity the first written wins.
			if cur := m.byStatus[st-minStatus]; cur == nil || spec.narrowerThan(cur.spec) {
				m.byStatus[st-minStatus] = rule
			}
		}
	}
	if len(codeRules) > 0 {
		m.byCode = make(map[string]*codeRule, len(codeRules))
	}
	for _, r := range codeRules {
		if r.UpstreamCode == "" {
			return nil, fmt.Errorf("map_code: upstream code is empty")
		}
		if r.ErrorCode == "" {
			return nil, fmt.Errorf("map_code %s: error_code is empty", r.UpstreamCode)
		}
		if _, dup := m.byCode[r.UpstreamCode]; dup {
			return nil, fmt.Errorf("map_code %s: duplicate rule for the same upstream code", r.UpstreamCode)
		}
		m.byCode[r.UpstreamCode] = &codeRule{code: r.ErrorCode, msg: newTemplate(r.ErrorMsg)}
	}
	return m, nil
}

// statusRuleFor returns the map_status rule that applies to status, or nil.
func (m *errorMap) statusRuleFor(status int) *statusRule {
	if status < minStatus || status > maxStatus {
		return nil
	}
	return m.byStatus[status-minStatus]
}

// fallbackCode is step 4 of the code choice: <prefix>.<status as 4 digits>.
func (m *errorMap) fallbackCode(status int) string {
	return fmt.Sprintf("%s.%04d", m.prefix, status)
}

// checkPattern reports the first code this map can produce that the
// code_pattern would reject: clients would then get codes that the
// gateway itself calls non-conforming.
func (m *errorMap) checkPattern(re *regexp.Regexp, statuses *statusSet) error {
	for st := minStatus; st <= maxStatus; st++ {
		if r := m.byStatus[st-minStatus]; r != nil {
			if !re.MatchString(r.code) {
				return fmt.Errorf("code_pattern %q rejects the configured map_status code %q", re.String(), r.code)
			}
		} else if statuses.has(st) {
			if c := m.fallbackCode(st); !re.MatchString(c) {
				return fmt.Errorf("code_pattern %q rejects the fallback code %q (set code_prefix or map_status)", re.String(), c)
			}
		}
	}
	for up, r := range m.byCode {
		if !re.MatchString(r.code) {
			return fmt.Errorf("code_pattern %q rejects the configured map_code code %q (for %q)", re.String(), r.code, up)
		}
	}
	return nil
}

// reasonPhrase is the last resort for error_msg.
func reasonPhrase(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

// ruleChoice is the part of the choice that depends on the status alone:
// steps 3–4 for the code, step 3 for the message (possibly empty).
func (h *Handler) ruleChoice(status int) (string, template) {
	if r := h.errors.statusRuleFor(status); r != nil {
		return r.code, r.msg
	}
	return h.errors.fallbackCode(status), template{}
}

// choose picks error_code and error_msg for a rewritten response from
// what the upstream said (zero for gateway errors and bodies that say
// nothing usable) and the operator's rules.
func (h *Handler) choose(status int, up upstreamWords, repl *caddy.Replacer) envelope {
	var e envelope
	var rule *codeRule
	if up.code != "" && h.errors.byCode != nil {
		rule = h.errors.byCode[up.code]
	}
	statusCode, statusMsg := h.ruleChoice(status)
	switch {
	case rule != nil:
		e.code = rule.code
		e.msg = h.cleanMessage(rule.msg.render(repl))
	case up.errorCode != "" && (h.codeRE == nil || h.codeRE.MatchString(up.errorCode)):
		e.code = up.errorCode
	default:
		e.code = statusCode
	}
	if e.msg == "" && up.msg != "" && h.upstreamOK.has(status) {
		e.msg = h.cleanMessage(up.msg)
	}
	if e.msg == "" {
		e.msg = h.cleanMessage(statusMsg.render(repl))
	}
	if e.msg == "" {
		e.msg = reasonPhrase(status)
	}
	return e
}
