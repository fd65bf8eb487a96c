package desk_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/desk"
)

var (
	pngFile  = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00"), bytes.Repeat([]byte{0}, 64)...)
	htmlFile = []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")
)

// randomBytes returns n bytes that compress to nothing, so a chunk boundary lands in data.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readAll(t *testing.T, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAttachments: an agent and a customer send files with messages (and files alone); names
// are cleaned and types sniffed from the content whatever the name says; a large file spans
// chunks and reads back exactly, whole and by ranges; the files are in the thread, the polls
// and the storage figure.
func TestAttachments(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	org, thomas := tm.org, desk.AsAgent(tm.thomas)
	tk, cust := tm.open(t, "carla@example.com", "My parcel is damaged")
	conv := tk.ConversationID
	if _, err := tm.svc.Take(ctx, org, thomas, tk.ID); err != nil {
		t.Fatal(err)
	}

	up, err := tm.svc.StartUpload(ctx, org, cust, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Discard()
	photo, err := up.Add(ctx, desk.NewFile{Name: "../../photo\u202Egnp.exe"}, bytes.NewReader(pngFile))
	if err != nil {
		t.Fatal(err)
	}
	if photo.Name != "photognp.exe" || photo.Type != "image/png" || photo.Size != int64(len(pngFile)) ||
		photo.SHA256 != sha256.Sum256(pngFile) || !photo.Inline() {
		t.Errorf("photo = %+v", photo)
	}
	lying, err := up.Add(ctx, desk.NewFile{Name: "invoice.png"}, bytes.NewReader(htmlFile))
	if err != nil {
		t.Fatal(err)
	}
	if lying.Type != "text/html" || lying.Inline() || lying.Name != "invoice.png" {
		t.Errorf("an HTML file named .png = %+v", lying)
	}
	big := randomBytes(2*desk.ChunkSize+12345, 1)
	large, err := up.Add(ctx, desk.NewFile{Name: ""}, bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	if large.Name != "file" || large.Type != "application/octet-stream" || large.Size != int64(len(big)) {
		t.Errorf("large = %+v", large)
	}
	m, err := tm.svc.AddMessageWithFiles(ctx, org, cust, 0, "Photos attached", up)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 3 || m.Files[0].MessageID != m.ID || m.Files[2].ID != large.ID {
		t.Fatalf("message files = %+v", m.Files)
	}

	// Files alone, from the agent.
	up2, err := tm.svc.StartUpload(ctx, org, thomas, conv)
	if err != nil {
		t.Fatal(err)
	}
	defer up2.Discard()
	if _, err := up2.Add(ctx, desk.NewFile{Name: "label.pdf"}, strings.NewReader("%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n")); err != nil {
		t.Fatal(err)
	}
	reply, err := tm.svc.AddMessageWithFiles(ctx, org, thomas, conv, "", up2)
	if err != nil || reply.Body != "" || len(reply.Files) != 1 || reply.Files[0].Type != "application/pdf" || reply.Files[0].Inline() {
		t.Fatalf("files alone: %+v, %v", reply, err)
	}

	// The thread (from memory and from the database), the customer's poll.
	for _, restart := range []bool{false, true} {
		if restart {
			tm.stop()
			tm.start(t)
		}
		th, err := tm.svc.Thread(ctx, org, cust, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]int{}
		for _, msg := range th.Messages {
			got[msg.ID] = len(msg.Files)
		}
		if got[m.ID] != 3 || got[reply.ID] != 1 {
			t.Errorf("restart %v: files per message %v", restart, got)
		}
	}
	u, err := tm.svc.Poll(ctx, org, cust, 0, m.ID, 50)
	if err != nil || len(u.Messages) != 1 || len(u.Messages[0].Files) != 1 {
		t.Errorf("customer poll after its message: %+v, %v", u, err)
	}

	// Downloads: whole, and ranges across chunk boundaries.
	d, err := tm.svc.Download(ctx, org, thomas, conv, large.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, d.Reader(0, -1)); !bytes.Equal(got, big) {
		t.Fatalf("the large file reads back %d bytes, differently", len(got))
	}
	for _, r := range [][2]int64{{0, 1}, {desk.ChunkSize - 3, 10}, {desk.ChunkSize, desk.ChunkSize}, {int64(len(big)) - 5, 100}, {int64(len(big)), 10}, {10, 0}} {
		got := readAll(t, d.Reader(r[0], r[1]))
		end := min(r[0]+r[1], int64(len(big)))
		if !bytes.Equal(got, big[r[0]:end]) {
			t.Errorf("range %v: %d bytes, want %d", r, len(got), end-r[0])
		}
	}
	if d, err := tm.svc.Download(ctx, org, cust, 0, photo.ID); err != nil || !bytes.Equal(readAll(t, d.Reader(0, -1)), pngFile) {
		t.Errorf("the customer's own photo: %v", err)
	}

	st, err := tm.svc.Storage(ctx, org, tm.owner())
	if err != nil || st.Files != 4 || st.FileBytes != int64(len(pngFile)+len(htmlFile)+len(big))+int64(reply.Files[0].Size) ||
		st.DatabaseBytes < st.FileBytes {
		t.Errorf("storage = %+v, %v", st, err)
	}
	if _, err := tm.svc.Storage(ctx, org, cust); kindOf(err) != "forbidden/forbidden" {
		t.Errorf("a customer's storage figure: %s", kindOf(err))
	}
}

// TestAttachmentAccess: a file is served only to whoever may see its message; everyone else —
// another customer, another conversation's URL, another tenant, a staged file — gets NotFound.
func TestAttachmentAccess(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	org, thomas := tm.org, desk.AsAgent(tm.thomas)
	tk, cust := tm.open(t, "carla@example.com", "question")
	other, otherCust := tm.open(t, "dora@example.com", "another question")
	if _, err := tm.svc.Take(ctx, org, thomas, tk.ID); err != nil {
		t.Fatal(err)
	}
	up, err := tm.svc.StartUpload(ctx, org, thomas, tk.ConversationID)
	if err != nil {
		t.Fatal(err)
	}
	f, err := up.Add(ctx, desk.NewFile{Name: "a.png"}, bytes.NewReader(pngFile))
	if err != nil {
		t.Fatal(err)
	}
	staged, err := tm.svc.Download(ctx, org, thomas, tk.ConversationID, f.ID)
	if kindOf(err) != "not found/file_not_found" || staged != nil {
		t.Errorf("a staged file: %s", kindOf(err))
	}
	if _, err := tm.svc.AddMessageWithFiles(ctx, org, thomas, tk.ConversationID, "here", up); err != nil {
		t.Fatal(err)
	}
	// Beta has a ticket with the same conversation id; acme's file id is still nothing there.
	beta := &catalog.Organization{Name: "Beta", Username: "beta", Email: "owner@beta.example", PasswordHash: "x", DBName: "tenantdesk-beta"}
	if err := tm.svc.Register(ctx, beta); err != nil {
		t.Fatal(err)
	}
	betaTk, _, err := tm.svc.OpenTicket(ctx, beta, desk.AsPublic(), desk.NewTicket{CustomerName: "B", CustomerEmail: "b@example.com", Query: "q"})
	if err != nil || betaTk.ConversationID != tk.ConversationID {
		t.Fatalf("beta's ticket: %+v, %v", betaTk, err)
	}
	for _, c := range []struct {
		name string
		org  *catalog.Organization
		a    desk.Actor
		conv int64
		want string
	}{
		{"the agent", nil, thomas, tk.ConversationID, "ok"},
		{"another agent", nil, desk.AsAgent(tm.ann), tk.ConversationID, "ok"},
		{"the owner", nil, tm.owner(), tk.ConversationID, "ok"},
		{"the customer", nil, cust, 0, "ok"},
		{"another customer", nil, otherCust, 0, "not found/file_not_found"},
		{"the agent under another conversation", nil, thomas, other.ConversationID, "not found/file_not_found"},
		{"an unknown conversation", nil, thomas, 987654, "not found/file_not_found"},
		{"the public", nil, desk.AsPublic(), tk.ConversationID, "not found/file_not_found"},
		{"another tenant's owner", beta, desk.AsOwner("beta"), tk.ConversationID, "not found/file_not_found"},
	} {
		o := org
		if c.org != nil {
			o = c.org
		}
		_, err := tm.svc.Download(ctx, o, c.a, c.conv, f.ID)
		if got := kindOf(err); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	if _, err := tm.svc.StartUpload(ctx, org, otherCust, tk.ConversationID); err != nil {
		t.Errorf("a customer's upload names its own ticket whatever the conversation id: %v", err)
	}
	if _, err := tm.svc.StartUpload(ctx, org, desk.AsAgent(tm.ann), tk.ConversationID); kindOf(err) != "forbidden/assigned_to_other" {
		t.Errorf("an upload where the agent may not write: %s", kindOf(err))
	}
	if _, err := tm.svc.CloseTicket(ctx, org, thomas, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tm.svc.StartUpload(ctx, org, cust, 0); kindOf(err) != "conflict/ticket_closed" {
		t.Errorf("an upload to a closed ticket: %s", kindOf(err))
	}
}

// TestAttachmentLimits: a file over the size limit, one too many, an empty one, the quota and
// an upload that breaks off are refused with nothing of them kept; a discarded upload and one
// a crash left behind (swept an hour later) leave nothing either.
func TestAttachmentLimits(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	tm.stop()
	tm.files = desk.FileLimits{MaxFileBytes: desk.ChunkSize + 100, MaxFiles: 2, QuotaBytes: 3 * desk.ChunkSize}
	tm.start(t)
	org := tm.org
	_, cust := tm.open(t, "carla@example.com", "question")
	stored := func() desk.Storage {
		t.Helper()
		st, err := tm.svc.Storage(ctx, org, tm.owner())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	up, err := tm.svc.StartUpload(ctx, org, cust, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up.Add(ctx, desk.NewFile{Name: "big.bin"}, bytes.NewReader(randomBytes(desk.ChunkSize+101, 2))); kindOf(err) != "too large/file_too_large" {
		t.Errorf("a file over the limit: %s", kindOf(err))
	}
	if _, err := up.Add(ctx, desk.NewFile{Name: "empty.txt"}, strings.NewReader("")); kindOf(err) != "invalid/empty_file" {
		t.Errorf("an empty file: %s", kindOf(err))
	}
	broken := io.MultiReader(bytes.NewReader(randomBytes(desk.ChunkSize+10, 3)), &failing{})
	if _, err := up.Add(ctx, desk.NewFile{Name: "cut.bin"}, broken); !errors.Is(err, errCutOff) {
		t.Errorf("an upload that broke off: %v", err)
	}
	if st := stored(); st.Files != 0 || st.FileBytes != 0 {
		t.Fatalf("refused files left %+v", st)
	}
	for i := range 2 {
		if _, err := up.Add(ctx, desk.NewFile{Name: "ok.bin"}, bytes.NewReader(randomBytes(desk.ChunkSize, uint64(10+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := up.Add(ctx, desk.NewFile{Name: "third.bin"}, strings.NewReader("x")); kindOf(err) != "invalid/too_many_files" {
		t.Errorf("a third file: %s", kindOf(err))
	}
	if st := stored(); st.Files != 2 {
		t.Errorf("staged files: %+v", st)
	}
	if _, err := tm.svc.AddMessageWithFiles(ctx, org, cust, 0, "two files", up); err != nil {
		t.Fatal(err)
	}
	// The quota: two chunks stored, a third fits, a fourth does not.
	up2, err := tm.svc.StartUpload(ctx, org, cust, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up2.Add(ctx, desk.NewFile{Name: "fits.bin"}, bytes.NewReader(randomBytes(desk.ChunkSize, 20))); err != nil {
		t.Fatal(err)
	}
	if _, err := up2.Add(ctx, desk.NewFile{Name: "over.bin"}, strings.NewReader("one byte too many")); kindOf(err) != "too large/quota_exceeded" {
		t.Errorf("a file over the quota: %s", kindOf(err))
	}
	up2.Discard()
	if st := stored(); st.Files != 2 || st.FileBytes != 2*desk.ChunkSize {
		t.Errorf("after a discarded upload: %+v", st)
	}
	if _, err := up2.Add(ctx, desk.NewFile{Name: "late.bin"}, strings.NewReader("x")); kindOf(err) != "conflict/upload_finished" {
		t.Errorf("adding to a discarded upload: %s", kindOf(err))
	}

	// An upload a crash left behind (never discarded) is swept by an upload an hour later.
	up3, err := tm.svc.StartUpload(ctx, org, cust, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up3.Add(ctx, desk.NewFile{Name: "orphan.bin"}, strings.NewReader("orphan")); err != nil {
		t.Fatal(err)
	}
	tm.clock.add(30 * time.Minute)
	if _, err := tm.svc.StartUpload(ctx, org, cust, 0); err != nil {
		t.Fatal(err)
	}
	if st := stored(); st.Files != 3 {
		t.Errorf("a recent staged file was swept: %+v", st)
	}
	tm.clock.add(31 * time.Minute)
	if _, err := tm.svc.StartUpload(ctx, org, cust, 0); err != nil {
		t.Fatal(err)
	}
	if st := stored(); st.Files != 2 {
		t.Errorf("an hour-old staged file was not swept: %+v", st)
	}
	if _, err := tm.svc.AddMessageWithFiles(ctx, org, cust, 0, "late", up3); kindOf(err) != "conflict/upload_expired" {
		t.Errorf("sending swept files: %s", kindOf(err))
	}

	// The System may stage files before the ticket they belong to exists (an email).
	sys, err := tm.svc.StartUpload(ctx, org, desk.AsSystem(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sys.Add(ctx, desk.NewFile{Name: "mail.txt", ContentID: " <part1@mail> "}, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	sys.Discard()
	if _, err := tm.svc.StartUpload(ctx, org, cust, 999); err != nil {
		t.Errorf("a customer's upload ignores the conversation id: %v", err)
	}
	if _, err := tm.svc.StartUpload(ctx, org, desk.AsAgent(tm.ann), 0); kindOf(err) != "not found/conversation_not_found" {
		t.Errorf("an agent's upload without a conversation: %s", kindOf(err))
	}
}

var errCutOff = errors.New("connection reset")

type failing struct{}

func (*failing) Read([]byte) (int, error) { return 0, errCutOff }
