package errenvelope

// The reference page in a real browser: Debian's headless Chromium, driven
// through the DevTools protocol by chromedp, against a real Caddy serving
// error_catalog (SPEC §16.1).

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// requireToolsEnv, when set (as .ci/run sets it), makes a missing
// browser or jq a failure rather than a skip.
const requireToolsEnv = "ERRENVELOPE_REQUIRE_TOOLS"

// newBrowser starts a fresh headless Chromium (Debian's, or $CHROMIUM)
// with a profile of its own, and returns a context for one tab; all of it
// ends with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv(requireToolsEnv) != "" {
			t.Fatalf("no browser at %s (apt-get install chromium): %v", path, err)
		}
		t.Skipf("no browser at %s (apt-get install chromium; .ci/run installs it)", path)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses root with its sandbox
	}
	ctx, cancelTimeout := context.WithTimeout(context.Background(), 2*time.Minute)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	// Last in, first out: the tab, the browser, then the profile's removal.
	t.Cleanup(cancelTimeout)
	t.Cleanup(cancelAlloc)
	t.Cleanup(cancelTab)
	return tabCtx
}

// pageEvents is what the page did while the test drove it.
type pageEvents struct {
	mu         sync.Mutex
	console    []string // "error: …"
	exceptions []string
	requests   []string // every URL the tab requested
}

func (p *pageEvents) listen(e any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := e.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range e.Args {
			var s string
			if json.Unmarshal(a.Value, &s) != nil {
				s = string(a.Value) + a.Description
			}
			parts = append(parts, s)
		}
		p.console = append(p.console, string(e.Type)+": "+strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		p.exceptions = append(p.exceptions, msg)
	case *cdplog.EventEntryAdded: // the browser's own messages: a blocked request, a CSP violation
		p.console = append(p.console, string(e.Entry.Level)+": "+e.Entry.Text)
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, e.Request.URL)
	}
}

// TestReferencePageInBrowser: the page a real Caddy serves loads in
// Chromium with no console error and no request outside it (its Content-
// Security-Policy lets nothing else through); #APIG.0201 marks that row and
// scrolls it into view; the search box filters rows; the language switch
// shows the Chinese messages; a screen reader finds the page's language,
// headers and labels. A screenshot goes to the test's artifact directory
// (go test -artifacts -outputdir DIR keeps it).
func TestReferencePageInBrowser(t *testing.T) {
	ctx := newBrowser(t)
	startCatalogSite(t)
	pageURL := "http://127.0.0.1:8095/errors"

	var ev pageEvents
	if err := chromedp.Listen(ctx, ev.listen); err != nil {
		t.Fatalf("starting the browser: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	// A short window, as on a laptop with the browser's bars: the rows are
	// below the fold, so landing on one means scrolling to it.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 420)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL+"#APIG.0201")); err != nil {
		t.Fatalf("loading the page: %v", err)
	}

	// The fragment's row is the target, marked, and in view.
	type row struct {
		ID, Background string
		Marked         int
		Top, Bottom    float64
		Viewport       float64
		ScrollY        float64
		HeaderBottom   float64 // the table's sticky header row, which must not cover the row
	}
	target, err := chromedp.Run(ctx, chromedp.Evaluate[row](`(() => {
		const el = document.querySelector(':target');
		const r = el ? el.getBoundingClientRect() : {top: -1, bottom: -1};
		return {ID: el ? el.id : '', Marked: document.querySelectorAll('tr.marked').length,
			Background: el ? getComputedStyle(el.cells[0]).backgroundColor : '',
			Top: r.top, Bottom: r.bottom, Viewport: innerHeight, ScrollY: scrollY,
			HeaderBottom: el ? el.closest('table').tHead.rows[0].cells[0].getBoundingClientRect().bottom : -1};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	// APIG.0201 has two rows (502 and 504): both are marked, the first is
	// the target.
	if target.ID != "APIG.0201" || target.Marked != 2 || target.ScrollY <= 0 || target.Top < target.HeaderBottom || target.Bottom > target.Viewport ||
		target.Background == "" || target.Background == "rgba(0, 0, 0, 0)" {
		t.Errorf("#APIG.0201: %+v; want that row the target, marked with its other row, highlighted, and scrolled into view below the table's header", target)
	}

	// A problem type of type_base (…/errors#GATEWAY.0404) lands on the row
	// of the run of fallback codes that holds its code.
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL+"#GATEWAY.0404")); err != nil {
		t.Fatal(err)
	}
	run, err := chromedp.Run(ctx, chromedp.Evaluate[row](`(() => {
		const tr = document.querySelector(':target').closest('tr');
		const r = tr.getBoundingClientRect();
		return {ID: tr.dataset.code.split(' ')[0] + '…' + tr.dataset.code.split(' ').pop(), Marked: document.querySelectorAll('tr.marked').length,
			Background: getComputedStyle(tr.cells[0]).backgroundColor, Top: r.top, Bottom: r.bottom, Viewport: innerHeight,
			ScrollY: scrollY, HeaderBottom: tr.closest('table').tHead.rows[0].cells[0].getBoundingClientRect().bottom};
	})()`))
	if err != nil || run.ID != "GATEWAY.0400…GATEWAY.0499" || run.Marked != 1 || run.Background == "rgba(0, 0, 0, 0)" || run.ScrollY <= 0 || run.Top < run.HeaderBottom || run.Bottom > run.Viewport {
		t.Errorf("#GATEWAY.0404: %+v, %v; want the 400-499 row, marked and in view", run, err)
	}

	// A screen reader's needs: the language, column headers, labels.
	a11y, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](`({
		lang: document.documentElement.lang,
		colHeaders: [...document.querySelectorAll('thead th[scope=col]')].map(th => th.textContent),
		rowHeaders: document.querySelectorAll('tbody th[scope=row]').length,
		rows: document.querySelectorAll('tbody tr').length,
		unlabelled: [...document.querySelectorAll('input, select')].filter(c => c.labels.length === 0).map(c => c.id),
		caption: document.querySelector('caption').textContent,
	})`))
	if err != nil {
		t.Fatal(err)
	}
	if a11y["lang"] != "en" || a11y["rowHeaders"] != a11y["rows"] || len(a11y["unlabelled"].([]any)) != 0 ||
		a11y["caption"] != "Error codes of shop-api" || !slices.Equal(anyStrings(a11y["colHeaders"]), []string{"Status", "Code", "Message", "Message (fr)", "Message (zh-CN)", "Description"}) {
		t.Errorf("accessibility: %v", a11y)
	}

	// The search box filters the rows, by code or by text.
	const visible = `[...document.querySelectorAll('tbody tr')].filter(r => r.checkVisibility()).map(r => r.dataset.code)`
	all, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](visible))
	if err != nil || len(all) < 5 {
		t.Fatalf("rows before the search: %q, %v", all, err)
	}
	for _, q := range []struct {
		typed string
		want  []string
	}{
		{"apig.0201", []string{"APIG.0201", "APIG.0201"}},
		{"<script>", []string{"SHOP.0400"}},
		{"后端", []string{"APIG.0201"}},
	} {
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("header input[type=search]"), q.typed)); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](visible))
		if err != nil || !slices.Equal(got, q.want) {
			t.Errorf("search %q: rows %q, want %q (%v)", q.typed, got, q.want, err)
		}
		none, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('.none').checkVisibility()`))
		if none {
			t.Errorf("search %q: the page says no code matches", q.typed)
		}
		// Clear it as a person would.
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("header input[type=search]"), strings.Repeat(kb.Backspace, len([]rune(q.typed))))); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](visible)); len(got) != len(all) {
		t.Errorf("after clearing the search: %d rows, want %d", len(got), len(all))
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("header input[type=search]"), "no such text")); err != nil {
		t.Fatal(err)
	}
	if none, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('.none').checkVisibility()`)); !none {
		t.Error("a search that matches nothing does not say so")
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("header input[type=search]"), strings.Repeat(kb.Backspace, len("no such text")))); err != nil {
		t.Fatal(err)
	}

	// A code put in the address bar while a search hides its row (the same
	// document, so no reload) clears the search and scrolls to the row.
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("header input[type=search]"), "conflict")); err != nil {
		t.Fatal(err)
	}
	if got, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](visible)); slices.Contains(got, "APIG.0201") {
		t.Fatalf("search %q: rows %q, want APIG.0201 hidden", "conflict", got)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash = 'APIG.0201'`)); err != nil {
		t.Fatal(err)
	}
	back, err := chromedp.Run(ctx, chromedp.Evaluate[row](`(() => {
		const el = document.getElementById('APIG.0201');
		const r = el.getBoundingClientRect();
		return {ID: document.querySelector('header input').value, Marked: document.querySelectorAll('tr.marked').length,
			Top: r.top, Bottom: r.bottom, Viewport: innerHeight, ScrollY: scrollY,
			HeaderBottom: el.closest('table').tHead.rows[0].cells[0].getBoundingClientRect().bottom};
	})()`))
	if err != nil || back.ID != "" || back.Marked != 2 || back.Top < back.HeaderBottom || back.Bottom > back.Viewport {
		t.Errorf("#APIG.0201 during a search: %+v, %v; want the search cleared and the row in view below the table's header", back, err)
	}

	// The language switch, moved with the arrow keys as a keyboard user
	// does (All languages, fr, zh-CN), shows one language's messages
	// alone, then all.
	const shownLangs = `[...new Set([...document.querySelectorAll('[data-lang]')].filter(c => c.checkVisibility()).map(c => c.dataset.lang))].sort()`
	for _, choice := range []struct {
		key  string
		want []string
	}{
		{kb.ArrowDown, []string{"fr"}},
		{kb.ArrowDown, []string{"zh-CN"}},
		{kb.ArrowUp, []string{"fr"}},
		{kb.ArrowUp, []string{"fr", "zh-CN"}},
	} {
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("header select"), choice.key)); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](shownLangs))
		if err != nil || !slices.Equal(got, choice.want) {
			t.Errorf("language switch after %q: columns %q shown, want %q (%v)", choice.key, got, choice.want, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("header select"), kb.ArrowDown+kb.ArrowDown)); err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-lang]')].filter(c => c.checkVisibility()).map(c => c.textContent).filter(s => s !== '')`))
	if err != nil || !slices.Contains(shown, "后端不可用。") || !slices.Contains(shown, "Message (zh-CN)") || slices.Contains(shown, "Backend indisponible.") {
		t.Errorf("zh-CN: shown %q, %v; want the Chinese messages alone", shown, err)
	}

	// A screenshot, for a person to look at.
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.ArtifactDir(), "reference-page.png")
	if err := os.WriteFile(shot, png, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))

	// With script off, in a tab of its own, the page still reads: every row
	// and every language shows, the controls (which need the script) do
	// not, and a link to a code lands on its row, highlighted, below the
	// table's header.
	noScript, cancelNoScript := chromedp.NewContext(ctx)
	defer cancelNoScript()
	if _, err := chromedp.Call(noScript, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(noScript, chromedp.EmulateViewport(1280, 420)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(noScript, chromedp.Navigate(pageURL+"#APIG.0201")); err != nil {
		t.Fatal(err)
	}
	type plain struct {
		Rows, Shown, Langs int
		Controls, Ran      bool
		Target             row
	}
	got, err := chromedp.Run(noScript, chromedp.Evaluate[plain](`(() => {
		const el = document.querySelector(':target'), r = el.getBoundingClientRect();
		const rows = [...document.querySelectorAll('tbody tr')];
		return {Rows: rows.length, Shown: rows.filter(r => r.checkVisibility()).length,
			Langs: [...document.querySelectorAll('td[data-lang]')].filter(c => c.checkVisibility()).length,
			Controls: document.querySelector('header form').checkVisibility(),
			Ran: document.querySelectorAll('tr.marked').length > 0,
			Target: {ID: el.id, Background: getComputedStyle(el.cells[0]).backgroundColor, Top: r.top, Bottom: r.bottom,
				Viewport: innerHeight, ScrollY: scrollY, HeaderBottom: el.closest('table').tHead.rows[0].cells[0].getBoundingClientRect().bottom}};
	})()`))
	if err != nil || got.Rows != len(all) || got.Shown != got.Rows || got.Langs != 2*got.Rows || got.Controls || got.Ran ||
		got.Target.ID != "APIG.0201" || got.Target.Background == "rgba(0, 0, 0, 0)" || got.Target.ScrollY <= 0 ||
		got.Target.Top < got.Target.HeaderBottom || got.Target.Bottom > got.Target.Viewport {
		t.Errorf("script off: %+v, %v; want %d rows shown with both languages, no controls, no script run, and the row of #APIG.0201 highlighted in view", got, err, len(all))
	}

	// Nothing went wrong, and nothing was requested outside the page.
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.exceptions) > 0 {
		t.Errorf("script exceptions: %q", ev.exceptions)
	}
	for _, m := range ev.console {
		if !strings.HasPrefix(m, "log:") && !strings.HasPrefix(m, "info:") && !strings.HasPrefix(m, "debug:") && !strings.HasPrefix(m, "verbose:") {
			t.Errorf("console: %s", m)
		}
	}
	for _, u := range ev.requests {
		if u, _, _ := strings.Cut(u, "#"); u != pageURL {
			t.Errorf("the page requested %s", u)
		}
	}
	if len(ev.requests) == 0 {
		t.Error("no request seen: the browser's events were not listened to")
	}
}

func anyStrings(v any) []string {
	var out []string
	if list, ok := v.([]any); ok {
		for _, x := range list {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}
