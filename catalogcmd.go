package errenvelope

// The `caddy error-catalog` subcommand: the error contract of a config,
// printed from the config itself, so the API's error docs cannot drift
// from what the gateway sends.

import (
	"fmt"
	"os"
	"sync"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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
			// Caddy's footer points to its own command docs, which do not
			// document this command: point to the ones that do.
			cmd.SetHelpTemplate(new(cobra.Command).HelpTemplate() + "\n" + catalogDocsFooter + "\n")
		},
	})
}

// catalogDocsFooter ends the command's --help.
const catalogDocsFooter = `Full documentation of this command is available at:
https://github.com/errenvelope/caddy-errenvelope/blob/main/docs/catalog.md`

func cmdErrorCatalog(fl caddycmd.Flags) (int, error) {
	format := fl.String("format")
	if _, ok := exportFormats[format]; !ok {
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

// errorCatalog loads a config file as `caddy run` would, validates it as
// `caddy validate` does (every module provisioned, nothing served, then
// cleaned up) and renders the contract of its error_envelope handlers, as
// provisioned.
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
	var ctx caddy.Context
	watchProvisions(func(c caddy.Context) { ctx = c })
	err = caddy.Validate(cfg)
	watchProvisions(nil)
	if err != nil {
		return nil, err
	}
	return render(contractOfContext(ctx), format) // no handler: an empty contract
}

// provisionWatch, while set, is told the context of every error_envelope
// handler provisioned: the subcommand learns the config's context, whose
// app it reads once validation is done.
var provisionWatch struct {
	sync.Mutex
	f func(caddy.Context)
}

func watchProvisions(f func(caddy.Context)) {
	provisionWatch.Lock()
	provisionWatch.f = f
	provisionWatch.Unlock()
}

func provisioned(ctx caddy.Context) {
	provisionWatch.Lock()
	if f := provisionWatch.f; f != nil {
		f(ctx)
	}
	provisionWatch.Unlock()
}

// contractOfContext is the contract of a provisioned config's handlers.
func contractOfContext(ctx caddy.Context) contract {
	app, err := ctx.AppIfConfigured("http")
	if err != nil {
		return contractOfApp(nil) // no HTTP app: no handler
	}
	httpApp, _ := app.(*caddyhttp.App)
	return contractOfApp(httpApp)
}

// exportFormats are the formats a contract is written in, with the media
// type each is served as.
var exportFormats = map[string]string{
	"json": "application/json", "markdown": "text/markdown; charset=utf-8",
	"openapi": "application/json", "html": "text/html; charset=utf-8",
}

// render writes a contract in one of the export formats.
func render(c contract, format string) ([]byte, error) {
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
