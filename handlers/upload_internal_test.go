package handlers

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzUploadPath: a path taken for a streamed upload is one of the three message lists (the
// routes whose handler reads an upload's body), and every such path, in any case and with or
// without a trailing slash, is taken.
func FuzzUploadPath(f *testing.F) {
	for _, s := range []string{"/conversation/1/messages", "/agent/acme/talk/7/messages/", "/customer/acme/t/tok/messages",
		"/CUSTOMER/acme/T/tok/MESSAGES", "/agent/acme/talk//messages", "/agent/acme/notes/1/messages", "/conversation/1/notes",
		"//conversation/1/messages", "/conversation/1/messages//", "/dash/messages", "", "/"} {
		f.Add(s)
	}
	valid := func(segs []string) bool {
		for _, s := range segs {
			if s == "" || strings.Contains(s, "/") {
				return false
			}
		}
		return true
	}
	f.Fuzz(func(t *testing.T, path string) {
		if uploadPath(path) {
			segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
			ok := segs[0] == "" && valid(segs[1:]) && strings.EqualFold(segs[len(segs)-1], "messages") &&
				((len(segs) == 4 && strings.EqualFold(segs[1], "conversation")) ||
					(len(segs) == 6 && strings.EqualFold(segs[1], "agent") && strings.EqualFold(segs[3], "talk")) ||
					(len(segs) == 6 && strings.EqualFold(segs[1], "customer") && strings.EqualFold(segs[3], "t")))
			if !ok {
				t.Fatalf("uploadPath(%q) = true for another route", path)
			}
		}
		// The other direction: the input as an id, an organization and a token in each list.
		seg := url.PathEscape(path)
		if seg == "" {
			return
		}
		for _, p := range []string{"/conversation/" + seg + "/messages", "/agent/" + seg + "/talk/" + seg + "/messages",
			"/customer/" + seg + "/t/" + seg + "/messages/", "/Agent/" + seg + "/TALK/" + seg + "/Messages"} {
			if !uploadPath(p) {
				t.Fatalf("uploadPath(%q) = false", p)
			}
		}
	})
}
