package errenvelope

// The `caddy error-catalog` subcommand: the error contract of a config,
// printed from the config itself, so the API's error docs cannot drift
// from what the gateway sends.

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "error-catalog",
		Usage: "[--config <path>] [--adapter <name>] [--format json|markdown|openapi|html]",
		Short: "Prints the error codes that error_envelope handlers send",
		Long: `
Loads the config as 'caddy run' would (Caddyfile or JSON, error catalogs
included) without serving it, and prints the effective error contract of
every error_envelope handler in it: each code a client can receive, with its
statuses, message, translations, description, where it comes from (catalog,
map_status, map_code or fallback) and the upstream codes mapped to it.
Handlers are labelled by their name, else by server and position.

--format json (default) prints one document for machines; markdown a table
per handler for an API's docs; openapi an OpenAPI 3.1 document with the
envelope schema and one response per status, with an example per code;
html one self-contained reference page (no external requests), where
page#CODE marks a code's row, with a search box and a language switch.

A config that does not load exits non-zero with its error.
`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().StringP("config", "c", "", "Configuration file (default: ./Caddyfile)")
			cmd.Flags().StringP("adapter", "a", "", "Name of config adapter")
			cmd.Flags().StringP("format", "f", "json", "Output format: json, markdown, openapi or html")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdErrorCatalog)
		},
	})
}

func cmdErrorCatalog(fl caddycmd.Flags) (int, error) {
	format := fl.String("format")
	switch format {
	case "json", "markdown", "openapi", "html":
	default:
		return caddy.ExitCodeFailedStartup, fmt.Errorf("--format %q: want json, markdown, openapi or html", format)
	}
	configFile := fl.String("config")
	if configFile == "" {
		if _, err := os.Stat("Caddyfile"); err != nil {
			return caddy.ExitCodeFailedStartup, fmt.Errorf("no config: use --config, or run where a Caddyfile is")
		}
		configFile = "Caddyfile"
	}
	out, err := errorCatalog(configFile, fl.String("adapter"), format)
	if err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	if _, err := os.Stdout.Write(out); err != nil {
		return caddy.ExitCodeFailedStartup, err
	}
	return caddy.ExitCodeSuccess, nil
}

// errorCatalog loads a config file as `caddy run` would, validates it
// (provisioning every module, without serving), and renders the contract
// of its error_envelope handlers.
func errorCatalog(configFile, adapter, format string) ([]byte, error) {
	input, _, _, err := caddycmd.LoadConfig(configFile, adapter)
	if err != nil {
		return nil, err
	}
	input = caddy.RemoveMetaFields(input)
	var cfg *caddy.Config
	if err := caddy.StrictUnmarshalJSON(input, &cfg); err != nil {
		return nil, fmt.Errorf("decoding config: %w", err)
	}
	if err := caddy.Validate(cfg); err != nil {
		return nil, err
	}
	c, err := contractOf(input)
	if err != nil {
		return nil, err
	}
	switch format {
	case "markdown":
		return exportMarkdown(c), nil
	case "openapi":
		return exportOpenAPI(c)
	case "html":
		return exportHTML(c)
	}
	return exportJSON(c)
}

// contractOf finds every error_envelope handler of a JSON config, in
// server and route order, and lists what each can send.
func contractOf(config []byte) (contract, error) {
	var root struct {
		Apps struct {
			HTTP struct {
				Servers map[string]json.RawMessage `json:"servers"`
			} `json:"http"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(config, &root); err != nil {
		return contract{}, err
	}
	names := make([]string, 0, len(root.Apps.HTTP.Servers))
	for name := range root.Apps.HTTP.Servers {
		names = append(names, name)
	}
	sort.Strings(names)
	c := contract{Handlers: []handlerContract{}}
	labels := map[string]int{}
	for _, server := range names {
		var tree any
		if err := json.Unmarshal(root.Apps.HTTP.Servers[server], &tree); err != nil {
			return c, err
		}
		var found []map[string]any
		findHandlers(tree, &found)
		for i, raw := range found {
			b, _ := json.Marshal(raw)
			var h Handler
			if err := json.Unmarshal(b, &h); err != nil {
				return c, err
			}
			if err := h.compile(); err != nil {
				return c, err
			}
			label := h.Name
			if label == "" {
				label = fmt.Sprintf("%s #%d", server, i+1)
			}
			if labels[label]++; labels[label] > 1 {
				label = fmt.Sprintf("%s (%d)", label, labels[label])
			}
			c.Handlers = append(c.Handlers, h.contract(label, server))
		}
	}
	return c, nil
}

// findHandlers collects the error_envelope handler objects under v, in
// document order (object members by name).
func findHandlers(v any, found *[]map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		if v["handler"] == "error_envelope" {
			*found = append(*found, v)
			return
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			findHandlers(v[k], found)
		}
	case []any:
		for _, x := range v {
			findHandlers(x, found)
		}
	}
}
