package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var debugEvents = os.Getenv("E2E_DEBUG") != ""

// actionTimeout bounds one step (a navigation, a wait for an element).
const actionTimeout = 20 * time.Second

// person is one user with a browser of their own: a tab in a separate browser context, so
// cookies are not shared with anyone else in the test. It records what would show up as red in
// the browser's developer tools; the test fails on any of it that was not allowed.
type person struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu       sync.Mutex
	problems []string
	allowed  []allowance
	urls     map[network.RequestID]string
	navs     int // main-frame navigations so far
}

// allowance is an error response a test causes on purpose.
type allowance struct {
	status  int64
	urlPart string
}

// newPerson opens a browser for name. With js false, the tab runs no JavaScript at all (the
// page's own scripts are disabled), as for a visitor who turned it off.
func newPerson(t *testing.T, name string, js bool) *person {
	t.Helper()
	requireSetup(t)
	p := &person{t: t, name: name, urls: map[network.RequestID]string{}}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext(), chromedp.WithListener(p.listen))
	t.Cleanup(cancel)
	p.ctx = ctx
	if err := chromedp.Do(ctx); err != nil { // opens the tab; its life is bound to ctx
		t.Fatalf("%s: opening a browser tab: %v", name, err)
	}
	if !js {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("%s: disabling JavaScript: %v", name, err)
		}
	}
	t.Cleanup(p.checkClean)
	return p
}

// listen runs on the tab's event loop: it must only record.
func (p *person) listen(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		p.problems = append(p.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text))
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var args []string
			for _, a := range e.Args {
				if a.Description != "" {
					args = append(args, a.Description)
				} else {
					args = append(args, string(a.Value))
				}
			}
			p.problems = append(p.problems, "console."+string(e.Type)+": "+strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		// CSP violations, failed resource loads and the like.
		if e.Entry.Level == log.EntryLevelError && !p.allowedURL(e.Entry.URL) {
			p.problems = append(p.problems, fmt.Sprintf("console (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		p.urls[e.RequestID] = e.Request.URL
		if debugEvents {
			if e.RedirectResponse != nil {
				fmt.Printf("%s: %d %s → %s\n", p.name, e.RedirectResponse.Status, e.RedirectResponse.URL, e.Request.URL)
			} else {
				fmt.Printf("%s: %s %s\n", p.name, e.Request.Method, e.Request.URL)
			}
		}
	case *network.EventResponseReceived:
		if debugEvents {
			fmt.Printf("%s: %d %s\n", p.name, e.Response.Status, e.Response.URL)
		}
		if e.Response.Status >= 400 && !p.allowedStatus(e.Response.Status, e.Response.URL) {
			p.problems = append(p.problems, fmt.Sprintf("HTTP %d for %s %s", e.Response.Status, e.Type, e.Response.URL))
		}
	case *network.EventLoadingFailed:
		// A request cut off by leaving the page (a poll in flight during a navigation) is
		// canceled, not failed.
		if !e.Canceled && e.ErrorText != "net::ERR_ABORTED" {
			p.problems = append(p.problems, fmt.Sprintf("request failed (%s, %s): %s", e.ErrorText, e.Type, p.urls[e.RequestID]))
		}
	case *page.EventFrameNavigated:
		if e.Frame.ParentID == "" {
			p.navs++
		}
	}
}

func (p *person) allowedStatus(status int64, url string) bool {
	for _, a := range p.allowed {
		if a.status == status && strings.Contains(url, a.urlPart) {
			return true
		}
	}
	return false
}

func (p *person) allowedURL(url string) bool {
	if url == "" {
		return false
	}
	for _, a := range p.allowed {
		if strings.Contains(url, a.urlPart) {
			return true
		}
	}
	return false
}

// allow lets the next responses with status for URLs containing urlPart pass: the test causes
// them on purpose (a 404 page, a form with errors).
func (p *person) allow(status int64, urlPart string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.allowed = append(p.allowed, allowance{status, urlPart})
}

// takeProblems returns and clears what was recorded.
func (p *person) takeProblems() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.problems
	p.problems = nil
	return out
}

// checkClean fails the test if the browser saw errors. It runs when the test ends.
func (p *person) checkClean() {
	p.t.Helper()
	// Events of the last page may still be on their way.
	time.Sleep(100 * time.Millisecond)
	for _, pr := range p.takeProblems() {
		p.t.Errorf("%s's browser: %s", p.name, pr)
	}
}

func (p *person) navigations() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.navs
}

// slow reports steps that took long, with E2E_DEBUG set.
func (p *person) slow(start time.Time, what string) {
	if d := time.Since(start); debugEvents && d > 300*time.Millisecond {
		fmt.Printf("SLOW %s: %s %v\n", p.name, what, d)
	}
}

// fail stops the test with what the page shows, for a readable failure.
func (p *person) fail(format string, args ...any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if len(text) > 1500 {
		text = text[:1500] + "…"
	}
	p.t.Fatalf("%s: %s\n  at %s\n  page text:\n%s\n  server log:\n%s", p.name, fmt.Sprintf(format, args...), url, text, serverLogTail())
}

// do runs steps, each bounded by actionTimeout.
func (p *person) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	defer p.slow(time.Now(), "do")
	for _, s := range steps {
		ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
		err := chromedp.Do(ctx, s)
		cancel()
		if err != nil {
			p.fail("%v", err)
		}
	}
}

// get runs one action that returns a value.
func get[T any](p *person, a chromedp.Action[T]) T {
	p.t.Helper()
	defer p.slow(time.Now(), fmt.Sprintf("get %T", a))
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.fail("%v", err)
	}
	return v
}

// eval evaluates a JavaScript expression in the page (through DevTools: it works with the
// page's own scripts disabled too).
func eval[T any](p *person, js string) T {
	p.t.Helper()
	return get(p, chromedp.Evaluate[T](js))
}

// open navigates to path on the server and checks the answer's status.
func (p *person) open(path string, status int64) {
	p.t.Helper()
	defer p.slow(time.Now(), "open "+path)
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.Run(ctx, chromedp.NavigateResponse(baseURL+path))
	if err != nil {
		p.fail("navigate to %s: %v", path, err)
	}
	if res.Status != status {
		p.fail("GET %s answered %d, want %d", path, res.Status, status)
	}
}

// submit clicks sel (a submit button or link) and waits for the page it leads to; the final
// response (after redirects) must have status.
func (p *person) submit(sel string, status int64) {
	p.t.Helper()
	defer p.slow(time.Now(), "submit "+sel)
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		p.fail("click %s: %v", sel, err)
	}
	if res == nil {
		p.fail("click %s: no page load", sel)
	}
	if res.Status != status {
		p.fail("click %s: the page answered %d, want %d", sel, res.Status, status)
	}
}

// fill types value into the field sel, as a keyboard would (after clearing it).
func (p *person) fill(sel, value string) {
	p.t.Helper()
	defer p.slow(time.Now(), "fill "+sel)
	eval[bool](p, fmt.Sprintf(`(() => { document.querySelector(%q).value = ''; return true })()`, sel))
	p.do(chromedp.SendKeys(chromedp.CSS(sel), value))
}

// waitFor waits until sel is visible, at most d.
func (p *person) waitFor(sel string, d time.Duration) time.Duration {
	p.t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(p.ctx, d)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		p.fail("waiting %v for %s: %v", d, sel, err)
	}
	return time.Since(start)
}

// text is the visible text of the first element matching sel.
func (p *person) text(sel string) string {
	p.t.Helper()
	return strings.TrimSpace(get(p, chromedp.Text(chromedp.CSS(sel))))
}

// has reports whether an element matches sel now (no waiting).
func (p *person) has(sel string) bool {
	p.t.Helper()
	n := get(p, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	return n > 0
}

// location is the tab's URL path (and query).
func (p *person) location() string {
	p.t.Helper()
	u := get(p, chromedp.Location())
	return strings.TrimPrefix(u, baseURL)
}

// wantText fails unless the text of sel contains want.
func (p *person) wantText(sel, want string) {
	p.t.Helper()
	if got := p.text(sel); !strings.Contains(got, want) {
		p.fail("%s says %q, want it to contain %q", sel, got, want)
	}
}

// press sends one key press the way a keyboard does: keyDown carrying the key's text (so the
// browser inserts it unless the page cancels the keydown), then keyUp. key is "Enter" or
// "Tab"; shift holds Shift.
func (p *person) press(key string, shift bool) {
	p.t.Helper()
	codes := map[string]struct {
		code int64
		text string
	}{"Enter": {13, "\r"}, "Tab": {9, ""}}
	k, ok := codes[key]
	if !ok {
		p.t.Fatalf("press: unknown key %q", key)
	}
	var mods int64
	if shift {
		mods = 8 // Shift
	}
	p.do(chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: key, Code: key, Modifiers: mods,
			WindowsVirtualKeyCode: k.code, NativeVirtualKeyCode: k.code, Text: k.text, UnmodifiedText: k.text}
		if k.text == "" {
			down.Type = input.DispatchKeyEventTypeRawKeyDown
		}
		if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, down); err != nil {
			return err
		}
		up := down
		up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, up)
		return err
	}))
}

// typeText types s into the focused element, key by key.
func (p *person) typeText(s string) {
	p.t.Helper()
	p.do(chromedp.KeyEvent(s))
}

// setColorScheme makes the page see prefers-color-scheme: scheme ("light" or "dark").
func (p *person) setColorScheme(scheme string) {
	p.t.Helper()
	_, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
	if err != nil {
		p.t.Fatal(err)
	}
}

// focus puts the keyboard focus on sel.
func focus(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Focus(chromedp.CSS(sel))
}

// jsString quotes s for JavaScript.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// containsAll reports whether s contains every part.
func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
