package errenvelope

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// hostileCatalog has markup in every text a catalog holds.
const hostileCatalog = `language: en
errors:
  - code: SHOP.0400
    status: 400
    message: <script>alert(1)</script> & "quotes"
    messages:
      zh-CN: <img src=x onerror=alert(2)>请求无效。
    description: <b>bold</b> </td></tr></table><script>alert(3)</script>
  - code: APIG.0201
    status: 502
    message: Backend unavailable.
    messages:
      zh-CN: 后端不可用。
      fr: Backend indisponible.
    statuses: ["502"]
  - code: APIG.0201
    status: 504
    message: Backend timeout.
    statuses: ["504"]
`

// shopPage is the reference page of a handler with hostileCatalog.
func shopPage(t *testing.T) []byte {
	t.Helper()
	h := &Handler{Name: "shop-api", Catalogs: []string{writeCatalog(t, t.TempDir(), "shop.yaml", hostileCatalog)}, RequestID: defaultRequestID}
	if err := h.compile(); err != nil {
		t.Fatal(err)
	}
	page, err := exportHTML(contract{Handlers: []handlerContract{h.contract("shop-api", "srv0")}})
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// TestPageIsText: the page's codes, messages and descriptions are text,
// never markup; it requests nothing outside itself; and it has what a
// screen reader needs (SPEC §16.1).
func TestPageIsText(t *testing.T) {
	page := shopPage(t)
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var elements []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			elements = append(elements, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	count := map[string]int{}
	ids := map[string]bool{}
	for _, n := range elements {
		count[n.Data]++
		if id := attr(n, "id"); id != "" {
			if ids[id] {
				t.Errorf("id %q twice", id)
			}
			ids[id] = true
		}
		for _, a := range n.Attr {
			if a.Key == "src" || strings.HasPrefix(a.Key, "on") || a.Key == "href" && !strings.HasPrefix(a.Val, "#") && a.Val != "data:," {
				t.Errorf("<%s %s=%q>: the page must request and run nothing but itself", n.Data, a.Key, a.Val)
			}
		}
	}
	// One script and one style, the page's own, and its empty icon (which
	// a browser would otherwise fetch): no markup from the catalog.
	for tag, want := range map[string]int{"script": 1, "style": 1, "img": 0, "b": 0, "link": 1, "iframe": 0, "table": 1, "input": 1, "select": 1} {
		if count[tag] != want {
			t.Errorf("%d <%s> elements, want %d", count[tag], tag, want)
		}
	}
	// The Content-Security-Policy lets exactly the page's style and script run.
	// (cspHash hashes what the page holds; the browser test shows a browser
	// agrees.)
	for _, tag := range []string{"style", "script"} {
		if src := "'" + cspHash(string(page), tag) + "'"; !strings.Contains(pageCSP, tag+"-src "+src) {
			t.Errorf("the policy %q does not let this page's %s (%s) run", pageCSP, tag, src)
		}
	}
	if !bytes.Contains(page, []byte("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;")) {
		t.Error("the catalog's message is not shown as text")
	}
	cells := map[string][]string{} // each row's cells' text, by data-code
	var headers []string
	for _, n := range elements {
		switch {
		case n.Data == "html" && attr(n, "lang") != "en":
			t.Errorf("<html lang=%q>, want en", attr(n, "lang"))
		case n.Data == "tr" && attr(n, "data-code") != "":
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode {
					cells[attr(n, "data-code")+" "+attr(n, "id")] = append(cells[attr(n, "data-code")+" "+attr(n, "id")], textOf(c))
				}
			}
		case n.Data == "th" && attr(n, "scope") == "col":
			headers = append(headers, textOf(n))
		case n.Data == "input" || n.Data == "select":
			// A label holds its control, which needs no id of its own.
			label := n.Parent
			if label == nil || label.Data != "label" || strings.TrimSpace(textOf(label)) == "" || attr(n, "id") != "" {
				t.Errorf("<%s> is not inside a label with text, or has an id", n.Data)
			}
		}
	}
	if want := []string{"Status", "Code", "Message", "Message (fr)", "Message (zh-CN)", "Description"}; !slices.Equal(headers, want) {
		t.Errorf("headers %q, want %q", headers, want)
	}
	want := map[string][]string{
		"SHOP.0400 SHOP.0400": {"400", "SHOP.0400", `<script>alert(1)</script> & "quotes"`, "", "<img src=x onerror=alert(2)>请求无效。", "<b>bold</b> </td></tr></table><script>alert(3)</script>"},
		// A code's first row has the code as its id; its other rows do not.
		"APIG.0201 APIG.0201": {"502", "APIG.0201", "Backend unavailable.", "Backend indisponible.", "后端不可用。", ""},
		"APIG.0201 ":          {"504", "APIG.0201", "Backend timeout.", "", "", ""},
	}
	for k, w := range want {
		if !slices.Equal(cells[k], w) {
			t.Errorf("row %s: %q, want %q", k, cells[k], w)
		}
	}
	if !ids["handler-shop-api"] || count["caption"] != 1 {
		t.Errorf("ids %v, %d captions: want the handler's section and its table's caption", ids, count["caption"])
	}
}

// TestPageIDsAreCodes: a code's link lands on its row whatever the code
// is named, even like a handler's section or a control; the sections
// take other ids, and no id is on the page twice.
func TestPageIDsAreCodes(t *testing.T) {
	const catalog = `{"language":"en","errors":[
		{"code":"handler-shop-api","status":400,"message":"Named like the section."},
		{"code":"handler-shop-api-2","status":401,"message":"Named like the section's next id."},
		{"code":"search","status":403,"message":"Named like a control."},
		{"code":"language","status":404,"message":"Named like a control."}]}`
	dir := t.TempDir()
	var c contract
	for _, label := range []string{"shop-api", "shop api"} { // two labels, one id of their own
		h := &Handler{Name: label, Catalogs: []string{writeCatalog(t, dir, "c.json", catalog)}}
		if err := h.compile(); err != nil {
			t.Fatal(err)
		}
		c.Handlers = append(c.Handlers, h.contract(label, "srv0"))
	}
	page, err := exportHTML(c)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*html.Node{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if id := attr(n, "id"); n.Type == html.ElementNode && id != "" {
			if byID[id] != nil {
				t.Errorf("id %q twice", id)
			}
			byID[id] = n
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	for _, code := range []string{"handler-shop-api", "handler-shop-api-2", "search", "language"} {
		if n := byID[code]; n == nil || n.Data != "tr" || attr(n, "data-code") != code {
			t.Errorf("#%s lands on %v, want the code's row", code, n)
		}
	}
	var sections []string
	for id, n := range byID {
		if n.Data == "h2" {
			sections = append(sections, id)
		}
	}
	slices.Sort(sections)
	if want := []string{"handler-shop-api-3", "handler-shop-api-4"}; !slices.Equal(sections, want) {
		t.Errorf("sections' ids %q, want %q", sections, want)
	}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
