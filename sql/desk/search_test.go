package desk_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/desk"
	"github.com/tenantdesk/tenantdesk/sql/search"
)

// TestSearch: every write path of the desk is searchable once it returns (a ticket's question
// and contact, messages from both sides, notes, tags, a contact renamed), the filters narrow
// the tickets, a ticket number names its ticket, and customers do not search.
func TestSearch(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	org, thomas, owner := tm.org, desk.AsAgent(tm.thomas), tm.owner()
	parcel, cust := tm.open(t, "carla@example.com", "Where is my parcel?")
	if _, err := tm.svc.AddMessage(ctx, org, cust, 0, "The courier never came, très décevant"); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.Take(ctx, org, thomas, parcel.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddMessage(ctx, org, thomas, parcel.ConversationID, "I am refunding the shipping fee"); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.AddNote(ctx, org, thomas, parcel.ConversationID, "courier blacklisted after this"); err != nil {
		t.Fatal(err)
	}
	if err := tm.svc.SetTags(ctx, org, thomas, parcel.ID, []string{"Shipping", "vip"}); err != nil {
		t.Fatal(err)
	}
	tm.clock.add(time.Hour)
	login, _ := tm.open(t, "bob@example.org", "Cannot log in, password refused")
	tm.clock.add(time.Hour)
	// Carla again, under another name: both tickets are found by it.
	again, _ := tm.open(t, "CARLA@example.com", "Another parcel question")
	if err := tm.svc.SetPriority(ctx, org, thomas, again.ID, desk.PriorityUrgent); err != nil {
		t.Fatal(err)
	}

	find := func(q desk.SearchQuery) []int64 {
		t.Helper()
		if q.Priority == 0 {
			q.Priority = -1
		}
		res, err := tm.svc.Search(ctx, org, owner, q)
		if err != nil {
			t.Fatalf("Search(%+v): %v", q, err)
		}
		var ids []int64
		for _, h := range res.Hits {
			ids = append(ids, h.Ticket.ID)
		}
		return ids
	}
	sorted := func(ids ...int64) []int64 { slices.Sort(ids); return ids }
	for _, c := range []struct {
		q    desk.SearchQuery
		want []int64
	}{
		{desk.SearchQuery{Text: "parcel"}, []int64{parcel.ID, again.ID}},
		{desk.SearchQuery{Text: "decevant courier"}, []int64{parcel.ID}},
		{desk.SearchQuery{Text: "refund"}, []int64{parcel.ID}},
		{desk.SearchQuery{Text: "blacklisted"}, []int64{parcel.ID}},
		{desk.SearchQuery{Text: "shipping vip"}, []int64{parcel.ID}},
		{desk.SearchQuery{Text: "Customer CARLA"}, []int64{parcel.ID, again.ID}},
		{desk.SearchQuery{Text: "bob@example.org"}, []int64{login.ID}},
		{desk.SearchQuery{Text: "parcel", Status: desk.StatusOpen, AssigneeID: tm.thomas.ID}, []int64{parcel.ID}},
		{desk.SearchQuery{Text: "parcel", Unassigned: true}, []int64{again.ID}},
		{desk.SearchQuery{Text: "parcel", Priority: desk.PriorityUrgent}, []int64{again.ID}},
		{desk.SearchQuery{Text: "parcel", Tag: " VIP "}, []int64{parcel.ID}},
		{desk.SearchQuery{Text: "parcel", From: parcel.CreatedAt.Add(time.Minute)}, []int64{again.ID}},
		{desk.SearchQuery{Text: "parcel", To: parcel.CreatedAt.Add(time.Minute)}, []int64{parcel.ID}},
		{desk.SearchQuery{Text: "parcel", Status: desk.StatusClosed}, nil},
		{desk.SearchQuery{Text: `"my parcel" OR NOT`}, nil},
		{desk.SearchQuery{Text: "   "}, nil},
	} {
		if got := find(c.q); !slices.Equal(sorted(got...), sorted(c.want...)) {
			t.Errorf("Search(%+v) = %v, want %v", c.q, got, c.want)
		}
	}

	res, err := tm.svc.Search(ctx, org, thomas, desk.SearchQuery{Text: "blacklisted", Priority: -1})
	if err != nil || len(res.Hits) != 1 || res.Hits[0].Kind != search.KindNote ||
		!strings.Contains(string(res.Hits[0].Snippet.HTML()), "<mark>blacklisted</mark>") {
		t.Fatalf("an agent's search for a note: %+v, %v", res, err)
	}
	res, err = tm.svc.Search(ctx, org, thomas, desk.SearchQuery{Text: "#" + itoa(login.ID), Priority: -1})
	if err != nil || res.Numbered == nil || res.Numbered.ID != login.ID || res.Numbered.ConversationID != login.ConversationID {
		t.Fatalf("a ticket number: %+v, %v", res, err)
	}
	if res, err := tm.svc.Search(ctx, org, thomas, desk.SearchQuery{Text: "#987654", Priority: -1}); err != nil || res.Numbered != nil {
		t.Errorf("an unknown ticket number: %+v, %v", res, err)
	}
	for _, q := range []desk.SearchQuery{{Text: "x", Status: "lost", Priority: -1}, {Text: "x", Priority: 7},
		{Text: "x", Tag: "a,b", Priority: -1}, {Text: "x", From: time.Unix(100, 0), To: time.Unix(50, 0), Priority: -1}} {
		if _, err := tm.svc.Search(ctx, org, owner, q); kindOf(err) != "invalid/invalid" {
			t.Errorf("Search(%+v): %s, want invalid", q, kindOf(err))
		}
	}
	if _, err := tm.svc.Search(ctx, org, cust, desk.SearchQuery{Text: "parcel", Priority: -1}); kindOf(err) != "forbidden/forbidden" {
		t.Errorf("a customer searching: %s", kindOf(err))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
