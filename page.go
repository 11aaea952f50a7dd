package errenvelope

// The contract as a reference page (SPEC §16.1): one self-contained HTML
// page, per handler a table of status, code, message, translations and
// description, for the people who look a code up. Everything on it is
// the contract's text, escaped by html/template: never markup.

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	htmltemplate "html/template"
	"slices"
	"strconv"
	"strings"
)

//go:embed page.html
var pageTemplate string

var pageHTML = htmltemplate.Must(htmltemplate.New("page").Parse(pageTemplate))

// pageCSP is the page's Content-Security-Policy when Caddy serves it: its
// own style and script run, by their hashes, and nothing is requested.
// They are hashed as html/template renders them (it drops the script's
// comments), from a page of no handler: they hold no action, so every
// page has them alike.
var pageCSP = func() string {
	var b bytes.Buffer
	if err := pageHTML.Execute(&b, pageData{}); err != nil {
		panic(err)
	}
	return "default-src 'none'; img-src data:; base-uri 'none'; form-action 'none'; " +
		"style-src '" + cspHash(b.String(), "style") + "'; script-src '" + cspHash(b.String(), "script") + "'"
}()

// cspHash is the CSP source of the first element tag's text in page.
func cspHash(page, tag string) string {
	_, text, _ := strings.Cut(page, "<"+tag+">")
	text, _, _ = strings.Cut(text, "</"+tag+">")
	sum := sha256.Sum256([]byte(text))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// pageData is what the page template reads.
type pageData struct {
	Languages []string // every translation's language, for the switch
	Handlers  []pageHandler
}

type pageHandler struct {
	Anchor    string // the section's id
	Label     string
	Digest    string
	Intro     []introPart
	Languages []string
	Rows      []pageRow
}

// introPart is a run of a handler's intro: text, or a member name.
type introPart struct {
	Text string
	Code bool
}

type pageRow struct {
	ID           string   // the code, on the first row of each code on the page
	Anchors      []string // a run of fallback codes: the ids of the others
	Codes        string   // every code of the row, space-separated
	Code         string
	Statuses     string
	Message      string
	Translations []pageText
	Description  string
}

type pageText struct {
	Lang, Text string
}

// exportHTML writes the contract as the reference page.
func exportHTML(c contract) ([]byte, error) {
	var d pageData
	// Every code's id comes first; a handler's section takes an id no code has.
	codes := map[string]bool{}
	for _, hc := range c.Handlers {
		for _, e := range hc.Errors {
			codes[e.Code] = true
			for _, code := range e.codes {
				codes[code] = true
			}
		}
	}
	ids := map[string]bool{}
	for _, hc := range c.Handlers {
		ph := pageHandler{Anchor: "handler-" + strings.Map(anchorRune, hc.Label), Label: hc.Label, Digest: hc.Digest, Languages: hc.Languages}
		// Labels are unique; what they keep of themselves may not be, and a code may be named alike.
		for base, n := ph.Anchor, 2; codes[ph.Anchor] || slices.ContainsFunc(d.Handlers, func(x pageHandler) bool { return x.Anchor == ph.Anchor }); n++ {
			ph.Anchor = base + "-" + strconv.Itoa(n)
		}
		for j, part := range strings.Split(hc.intro(), "`") {
			if part != "" {
				ph.Intro = append(ph.Intro, introPart{Text: part, Code: j%2 == 1})
			}
		}
		for _, l := range hc.Languages {
			if !slices.Contains(d.Languages, l) {
				d.Languages = append(d.Languages, l)
			}
		}
		for _, e := range hc.Errors {
			row := pageRow{Code: e.Code, Codes: e.Code, Statuses: e.statusList(), Message: e.shownMessage(), Description: e.Description}
			if !ids[e.Code] {
				row.ID, ids[e.Code] = e.Code, true
			}
			if len(e.codes) > 0 {
				// Each code of a run has its anchor, so that a problem type
				// (type_base#GATEWAY.0404) finds its row.
				row.Codes = strings.Join(e.codes, " ")
				for _, c := range e.codes {
					if !ids[c] {
						row.Anchors, ids[c] = append(row.Anchors, c), true
					}
				}
			}
			for _, l := range hc.Languages {
				row.Translations = append(row.Translations, pageText{l, e.Messages[l]})
			}
			ph.Rows = append(ph.Rows, row)
		}
		d.Handlers = append(d.Handlers, ph)
	}
	slices.Sort(d.Languages)
	var b bytes.Buffer
	err := pageHTML.Execute(&b, d)
	return b.Bytes(), err
}

// anchorRune keeps letters, digits, '-' and '_' of a label for an id.
func anchorRune(r rune) rune {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		return r
	}
	return '-'
}
