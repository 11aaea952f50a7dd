package errenvelope

// Which error_envelope handlers a config has: found in its provisioned
// HTTP app, so that `caddy error-catalog`, the error_catalog handler and
// the admin API read the contract of the very handlers that answer.

import (
	"fmt"
	"slices"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/intercept"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// contractOfApp lists every error_envelope handler of a provisioned HTTP
// app (servers by name; in each, its routes in order, then its named
// routes by name, then its error routes), and what each can send. A
// handler is labelled by its name, else by its server and position
// ("srv0 #2"); a label taken twice gets a number.
func contractOfApp(app *caddyhttp.App) contract {
	c := contract{Handlers: []handlerContract{}}
	if app == nil {
		return c
	}
	names := make([]string, 0, len(app.Servers))
	for name := range app.Servers {
		names = append(names, name)
	}
	slices.Sort(names)
	labels := map[string]int{}
	for _, server := range names {
		srv := app.Servers[server]
		var found []*Handler
		collect(srv.Routes, &found)
		routeNames := make([]string, 0, len(srv.NamedRoutes))
		for name := range srv.NamedRoutes {
			routeNames = append(routeNames, name)
		}
		slices.Sort(routeNames)
		for _, name := range routeNames {
			collect(caddyhttp.RouteList{*srv.NamedRoutes[name]}, &found)
		}
		if srv.Errors != nil {
			collect(srv.Errors.Routes, &found)
		}
		for i, h := range found {
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
	return c
}

// collect appends the error_envelope handlers of routes, in order, also
// those in subroutes (their routes, then their error routes) and in the
// handle_response routes of reverse_proxy and intercept.
func collect(routes caddyhttp.RouteList, found *[]*Handler) {
	for _, r := range routes {
		for _, mh := range r.Handlers {
			switch h := mh.(type) {
			case *Handler:
				*found = append(*found, h)
			case *caddyhttp.Subroute:
				collect(h.Routes, found)
				if h.Errors != nil {
					collect(h.Errors.Routes, found)
				}
			case *reverseproxy.Handler:
				for _, hr := range h.HandleResponse {
					collect(hr.Routes, found)
				}
			case *intercept.Intercept:
				for _, hr := range h.HandleResponse {
					collect(hr.Routes, found)
				}
			}
		}
	}
}
