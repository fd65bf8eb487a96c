package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// writeFiles writes test files into a directory of their own and returns their paths by name:
// a real 3×2 PNG and a text file.
func writeFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"damage.png": buf.Bytes(), "order-4711.txt": []byte("order 4711: one teapot, broken\n")}
	paths := map[string]string{}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

// fileLinks is the names of the files the message elements of p's page link to.
func fileLinks(p *person) string {
	p.t.Helper()
	return eval[string](p, `[...document.querySelectorAll('#messages a[data-attachment]')].map(a => a.closest('li').textContent.trim()).join(' | ')`)
}

// TestAttachmentsInTheBrowser: a customer attaches two files from the composer with
// JavaScript (htmx, a progress bar while it uploads); the agent's open page shows them by
// itself, the image previewed (its download loads) and the text file downloading with its
// type; the agent answers with a file; a customer without JavaScript sends a file through the
// plain form.
func TestAttachmentsInTheBrowser(t *testing.T) {
	t.Parallel()
	tm := seedTeam(t, "filesco", "Files Co")
	_, custPage := seedTicket(t, tm.user, "Tia Teapot", "tia@customer.example", "My teapot arrived broken")
	talk := seedTake(t, tm.ann, tm.user)
	paths := writeFiles(t)

	ann := newPerson(t, "Ann", true)
	loginAgent(ann, tm.user, tm.annEmail, annPassword, "/agent/"+tm.user+"/dash")
	ann.open(talk, 200)
	annPage := markPage(ann)

	cust := newPerson(t, "customer", true)
	cust.open(custPage, 200)
	custMark := markPage(cust)
	cust.fill("#message", "Photos of the damage")
	cust.do(chromedp.SetUploadFiles(chromedp.CSS("#attachment"), []string{paths["damage.png"], paths["order-4711.txt"]}))
	sent := time.Now()
	cust.do(chromedp.Click(chromedp.CSS(`#composer button[type="submit"]`)))
	waitTrue(cust, `document.querySelectorAll('#messages a[data-attachment]').length === 2`, actionTimeout, "the customer's files in its own list")
	custMark()
	if got := fileLinks(cust); !containsAll(got, "damage.png", "order-4711.txt") {
		cust.fail("the customer's message lists %q", got)
	}
	waitTrue(cust, `document.querySelector('#composer progress[data-progress]').hidden && document.querySelector('#attachment').files.length === 0`,
		actionTimeout, "the progress bar hidden and the file input cleared after the send")

	// The other side, by polling, without a reload.
	waitTrue(ann, `document.querySelectorAll('#messages a[data-attachment]').length === 2`, pollInterval+pollSlack+time.Since(sent),
		"the customer's files on the agent's page")
	annPage()
	waitTrue(ann, `(() => { const i = document.querySelector('#messages img.msg-image'); return !!i && i.complete && i.naturalWidth === 3 })()`,
		actionTimeout, "the image preview loaded from its download URL")
	eval[bool](ann, `(() => {
		const a = [...document.querySelectorAll('#messages a[data-attachment]')].find(a => a.textContent.includes('order-4711'));
		fetch(a.href).then(async r => {
			window.__download = [r.status, r.headers.get('content-type'), r.headers.get('content-disposition'), r.headers.get('x-content-type-options'),
				r.headers.get('content-security-policy'), a.getAttribute('download'), await r.text()].join('\n');
		});
		return true;
	})()`)
	waitTrue(ann, `typeof window.__download === 'string'`, actionTimeout, "the text file fetched")
	got := eval[string](ann, `window.__download`)
	want := []string{"200", "application/octet-stream", `attachment; filename="order-4711.txt"`, "nosniff", "sandbox", "order-4711.txt", "order 4711: one teapot, broken"}
	for _, w := range want {
		if !strings.Contains(got, w) {
			ann.fail("the text file's download lacks %q:\n%s", w, got)
		}
	}

	// The agent answers with a file alone.
	ann.do(chromedp.SetUploadFiles(chromedp.CSS("#attachment"), []string{paths["order-4711.txt"]}))
	ann.do(chromedp.Click(chromedp.CSS(`#composer button[type="submit"]`)))
	waitTrue(ann, `document.querySelectorAll('#messages a[data-attachment]').length === 3`, actionTimeout, "the agent's file in its list")
	waitTrue(cust, `document.querySelectorAll('#messages a[data-attachment]').length === 3`, pollInterval+pollSlack+actionTimeout,
		"the agent's file on the customer's page")

	// Without JavaScript: the plain form posts the file and the page comes back with it.
	plain := newPerson(t, "customer without JavaScript", false)
	plain.open(custPage, 200)
	plain.fill("#message", "And the receipt")
	plain.do(chromedp.SetUploadFiles(chromedp.CSS("#attachment"), []string{paths["order-4711.txt"]}))
	plain.submit(`#composer button[type="submit"]`, 200)
	if n := eval[int](plain, `document.querySelectorAll('#messages a[data-attachment]').length`); n != 4 {
		plain.fail("after the plain post the page lists %d files, want 4", n)
	}
}

// TestSearchInTheBrowser: an agent types into the search page and the results come as it
// types, without leaving the page, the matches marked; a ticket number submitted opens that
// ticket; without JavaScript the same form searches by submitting.
func TestSearchInTheBrowser(t *testing.T) {
	t.Parallel()
	tm := seedTeam(t, "findco", "Find Co")
	_, page1 := seedTicket(t, tm.user, "Rita Refund", "rita@customer.example", "Where is my refund for order 4711?")
	seedTicket(t, tm.user, "Pete Printer", "pete@customer.example", "The printer is jammed")
	talk := seedTake(t, tm.ann, tm.user)
	seedNote(t, tm.ann, talk, "escalated to the billing team")
	_ = page1

	ann := newPerson(t, "Ann", true)
	loginAgent(ann, tm.user, tm.annEmail, annPassword, "/agent/"+tm.user+"/dash")
	ann.submit("#nav-search", 200)
	mark := markPage(ann)
	ann.do(chromedp.SendKeys(chromedp.CSS("#search-q"), "refu"))
	waitTrue(ann, `!!document.querySelector('#search-hits .ticket mark')`, actionTimeout, "live results for refu")
	mark()
	if got := ann.text("#search-hits"); !containsAll(got, "Rita Refund") || strings.Contains(got, "Pete Printer") {
		ann.fail("results for refu: %q", got)
	}
	if m := eval[string](ann, `document.querySelector('#search-hits mark').textContent`); !strings.EqualFold(m, "refund") {
		ann.fail("the marked word is %q", m)
	}
	if u := eval[string](ann, `location.search`); !strings.Contains(u, "q=refu") {
		ann.fail("the address does not keep the search: %q", u)
	}
	// A note's words find its ticket for the team; a filter narrows.
	ann.fill("#search-q", "billing")
	waitTrue(ann, `document.querySelector('#search-results').textContent.includes('in an internal note')`, actionTimeout, "the note found")
	choose(ann, "#search-status", "closed")
	eval[bool](ann, `document.querySelector('#search-status').dispatchEvent(new Event('change', {bubbles: true}))`)
	waitTrue(ann, `!!document.querySelector('#search-empty')`, actionTimeout, "no closed ticket found")
	mark()

	// A ticket number, submitted: the ticket's page.
	id := ticketIDOf(t, tm.ann, talk)
	ann.fill("#search-q", "#"+id)
	ann.submit(`#search-form button[type="submit"]`, 200)
	if ann.location() != talk {
		ann.fail("#%s led to %s, want %s", id, ann.location(), talk)
	}

	// Without JavaScript.
	plain := newPerson(t, "Ben without JavaScript", false)
	loginAgent(plain, tm.user, tm.benEmail, benPassword, "/agent/"+tm.user+"/dash")
	plain.open("/agent/"+tm.user+"/search", 200)
	plain.fill("#search-q", "jammed")
	plain.submit(`#search-form button[type="submit"]`, 200)
	if got := plain.text("#search-hits"); !strings.Contains(got, "Pete Printer") {
		plain.fail("results without JavaScript: %q", got)
	}
}
