package errenvelope

import (
	"errors"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/dustin/go-humanize"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("error_envelope", parseCaddyfile)
	// Inside encode, so the envelope is compressed like any response, and
	// outside every handler that can answer an error, so their bytes and
	// errors reach this handler first.
	httpcaddyfile.RegisterDirectiveOrder("error_envelope", httpcaddyfile.After, "encode")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var eh Handler
	err := eh.UnmarshalCaddyfile(h.Dispenser)
	return &eh, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens:
//
//	error_envelope [<matcher>] {
//	    statuses         <spec>...
//	    code_prefix      <prefix>
//	    map_status       <spec> <error_code> [<error_msg>]
//	    map_code         <upstream_code> <error_code> [<error_msg>]
//	    upstream_message 4xx|5xx|all|none
//	    code_pattern     <regexp>
//	    request_id       [<value>]
//	    field            <name> <value>
//	    max_body         <size>
//	    max_message      <n>
//	    gateway_errors   on|off
//	    mode             rewrite|report
//	    name             <name>
//	    catalog          <file>
//	    unknown_codes    pass|rewrite
//	    problem_details  on|off
//	    keep_body        <size>
//	    scrub            off|<detector>...
//	    scrub_pattern    <regexp> [<mark>]
//	    type_base        <url>
//	}
//
// Everything the parser can check (status specs, sizes, policies,
// regular expressions) is checked here, so `caddy adapt` names the line.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	// The token of each option line, so that a configuration error is
	// reported at the line it is about.
	at := map[optionLine]caddyfile.Token{}
	for d.NextBlock(0) {
		opt := d.Val()
		at[optionLine{opt, lineCount(opt, h)}] = d.Token()
		args := d.RemainingArgs()
		switch opt {
		case "statuses":
			if len(args) == 0 {
				return d.Errf("statuses: want at least one status, class or range")
			}
			h.Statuses = append(h.Statuses, args...)

		case "code_prefix":
			if len(args) != 1 || args[0] == "" {
				return d.Errf("code_prefix: want exactly one non-empty prefix")
			}
			h.CodePrefix = args[0]

		case "map_status":
			if len(args) < 2 || len(args) > 3 {
				return d.Errf("map_status: want <status> <error_code> [<error_msg>], got %d arguments", len(args))
			}
			if _, err := parseStatusSpec(args[0]); err != nil {
				return d.Errf("map_status: %v", err)
			}
			rule := StatusRule{Status: args[0], ErrorCode: args[1]}
			if len(args) == 3 {
				rule.ErrorMsg = args[2]
			}
			h.MapStatus = append(h.MapStatus, rule)

		case "map_code":
			if len(args) < 2 || len(args) > 3 {
				return d.Errf("map_code: want <upstream_code> <error_code> [<error_msg>], got %d arguments", len(args))
			}
			if args[0] == "" || args[1] == "" {
				return d.Errf("map_code: upstream code and error_code must not be empty")
			}
			rule := CodeRule{UpstreamCode: args[0], ErrorCode: args[1]}
			if len(args) == 3 {
				rule.ErrorMsg = args[2]
			}
			h.MapCode = append(h.MapCode, rule)

		case "upstream_message":
			if len(args) != 1 {
				return d.Errf("upstream_message %q: want one of 4xx, 5xx, all, none", strings.Join(args, " "))
			}
			h.UpstreamMessage = args[0]

		case "code_pattern":
			if len(args) != 1 {
				return d.Errf("code_pattern: want exactly one regular expression")
			}
			h.CodePattern = args[0]

		case "request_id":
			switch len(args) {
			case 0:
				h.RequestID = defaultRequestID
			case 1:
				if args[0] == "" {
					return d.Errf("request_id: value is empty")
				}
				h.RequestID = args[0]
			default:
				return d.Errf("request_id: want at most one value")
			}

		case "field":
			if len(args) != 2 {
				return d.Errf("field: want <name> <value>, got %d arguments", len(args))
			}
			h.Fields = append(h.Fields, Field{Name: args[0], Value: args[1]})

		case "max_body":
			if len(args) != 1 {
				return d.Errf("max_body: want one size, like 1MiB")
			}
			size, err := humanize.ParseBytes(args[0])
			if err != nil || size == 0 || size > maxMaxBody {
				return d.Errf("max_body %q: want a size between 1B and 1GiB, like 1MiB", args[0])
			}
			h.MaxBody = int64(size)

		case "max_message":
			if len(args) != 1 {
				return d.Errf("max_message: want one number of characters")
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n <= 0 {
				return d.Errf("max_message %q: want a positive number of characters", args[0])
			}
			h.MaxMessage = n

		case "gateway_errors":
			if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
				return d.Errf("gateway_errors %q: want on or off", strings.Join(args, " "))
			}
			on := args[0] == "on"
			h.GatewayErrors = &on

		case "mode":
			if len(args) != 1 || (args[0] != "rewrite" && args[0] != "report") {
				return d.Errf("mode %q: want rewrite or report", strings.Join(args, " "))
			}
			h.Mode = args[0]

		case "name":
			if len(args) != 1 || args[0] == "" {
				return d.Errf("name: want exactly one non-empty name")
			}
			h.Name = args[0]

		case "catalog":
			if len(args) != 1 || args[0] == "" {
				return d.Errf("catalog: want exactly one file (repeat the line for more)")
			}
			h.Catalogs = append(h.Catalogs, args[0])

		case "problem_details":
			if len(args) != 1 || (args[0] != "on" && args[0] != "off") {
				return d.Errf("problem_details %q: want on or off", strings.Join(args, " "))
			}
			h.ProblemDetails = args[0] == "on"

		case "keep_body":
			if len(args) != 1 {
				return d.Errf("keep_body: want one size, like 4KiB (0 for off)")
			}
			size, err := humanize.ParseBytes(args[0])
			if err != nil || size > maxMaxBody {
				return d.Errf("keep_body %q: want a size up to max_body, like 4KiB (0 for off)", args[0])
			}
			h.KeepBody = int64(size)

		case "scrub":
			if len(args) == 0 {
				return d.Errf("scrub: want off or detectors (%s)", strings.Join(detectorNames[:numDetectors-1], ", "))
			}
			if h.Scrub != nil {
				return d.Errf("scrub: given twice; name every detector on one line")
			}
			h.Scrub = args

		case "scrub_pattern":
			if len(args) < 1 || len(args) > 2 || args[0] == "" {
				return d.Errf("scrub_pattern: want <regexp> [<mark>], got %d arguments", len(args))
			}
			sp := ScrubPattern{Pattern: args[0]}
			if len(args) == 2 {
				sp.Mark = args[1]
			}
			h.ScrubPatterns = append(h.ScrubPatterns, sp)

		case "type_base":
			if len(args) != 1 {
				return d.Errf("type_base: want one URL, like https://api.example.com/errors")
			}
			h.TypeBase = args[0]

		case "unknown_codes":
			if len(args) != 1 || (args[0] != "pass" && args[0] != "rewrite") {
				return d.Errf("unknown_codes %q: want pass or rewrite", strings.Join(args, " "))
			}
			h.UnknownCodes = args[0]

		default:
			return d.Errf("unrecognized subdirective %q", opt)
		}
	}
	// Every check that needs no file runs here, so `caddy adapt` reports
	// it at its line; catalogs are read and checked when the config loads.
	if err := h.checkSyntax(); err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			// The line that holds the index-th value of the option.
			for i := ce.index; i >= 0; i-- {
				if tok, ok := at[optionLine{ce.option, i}]; ok {
					return errAt(tok, err)
				}
			}
		}
		return d.WrapErr(err)
	}
	return nil
}

// optionLine names one line of the block: an option, and which of its
// lines when it repeats.
type optionLine struct {
	option string
	index  int
}

// lineCount is how many values of a repeatable option h already holds:
// the index of the first value on its next line.
func lineCount(option string, h *Handler) int {
	switch option {
	case "map_status":
		return len(h.MapStatus)
	case "map_code":
		return len(h.MapCode)
	case "field":
		return len(h.Fields)
	case "catalog":
		return len(h.Catalogs)
	case "statuses":
		return len(h.Statuses)
	case "scrub_pattern":
		return len(h.ScrubPatterns)
	}
	return 0
}

// errAt reports err at the line of tok, as d.Errf does at the current one.
func errAt(tok caddyfile.Token, err error) error {
	d := caddyfile.NewDispenser([]caddyfile.Token{tok})
	d.Next()
	return d.WrapErr(err)
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Handler)(nil)
