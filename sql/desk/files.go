package desk

// Attachments: files stored inside the tenant's database, in chunks (tenant migration 0003),
// so that exports, imports, backups, replicas and deletion carry them with no other store.
//
// A file is stored while it arrives — chunk by chunk, each chunk in a short transaction of its
// own, so that a slow upload never holds the tenant's one connection — as a staged row that
// nobody sees (message_id NULL) and that counts against the quota. The message's transaction
// links the staged files to it. An upload that breaks off deletes what it staged (Discard);
// one a crash interrupted is swept by the next upload to the tenant.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/apperr"
	"github.com/tenantdesk/tenantdesk/sql/catalog"
	"github.com/tenantdesk/tenantdesk/sql/email"
	"github.com/tenantdesk/tenantdesk/sql/files"
)

// ChunkSize is how many bytes of a file one row of attachment_chunks holds: what one upload
// or one download keeps in memory at a time.
const ChunkSize = 256 << 10

// staleUpload is how old a staged file must be before another upload's sweep deletes it (an
// upload broken off by a crash); no upload takes this long (the HTTP layer bounds one at
// minutes).
const staleUpload = time.Hour

// FileLimits bound what the desk stores. Zero values take the defaults in brackets.
type FileLimits struct {
	// MaxFileBytes bounds one file (10 MiB).
	MaxFileBytes int64
	// MaxFiles bounds the files of one message (10).
	MaxFiles int
	// QuotaBytes bounds all files of one organization together (0: no bound).
	QuotaBytes int64
}

func (l FileLimits) withDefaults() FileLimits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 10 << 20
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = 10
	}
	if l.QuotaBytes < 0 {
		l.QuotaBytes = 0
	}
	return l
}

// The codes of refused files.
const (
	CodeFileNotFound  apperr.Code = "file_not_found"
	CodeFileTooLarge  apperr.Code = "file_too_large"  // TooLarge: over FileLimits.MaxFileBytes
	CodeQuotaExceeded apperr.Code = "quota_exceeded"  // TooLarge: the organization's files over QuotaBytes
	CodeTooManyFiles  apperr.Code = "too_many_files"  // Invalid: over FileLimits.MaxFiles
	CodeEmptyFile     apperr.Code = "empty_file"      // Invalid: a file without content
	CodeUploadExpired apperr.Code = "upload_expired"  // Conflict: staged files swept or sent before the message
	CodeUploadClosed  apperr.Code = "upload_finished" // Conflict: the upload was sent or discarded
)

// File is an attachment of a message.
type File struct {
	ID int64
	// MessageID is the message it belongs to (0 while it is staged).
	MessageID int64
	// Name is the sender's name for it, cleaned (files.CleanName).
	Name string
	// Type is sniffed from its content (files.Sniff), never the sender's claim.
	Type string
	Size int64
	// SHA256 is the hash of its content (a download's ETag).
	SHA256 [32]byte
	// ContentID is an email part's Content-ID, which an HTML email refers to as cid:…; empty
	// for uploads.
	ContentID string
	CreatedAt time.Time
}

// Inline reports whether a browser may show the file in place (raster images).
func (f File) Inline() bool { return files.Inline(f.Type) }

// NewFile describes a file to store: what its sender called it and, for an email's inline
// part, its Content-ID.
type NewFile struct {
	Name      string
	ContentID string
}

// Upload stores files for one message before the message exists. Use it from one goroutine:
// Add each file as it arrives, then send the message with them (AddMessageWithFiles, or a desk
// write that links them), and Discard in any case (it does nothing after a send).
type Upload struct {
	s     *Service
	org   *catalog.Organization
	ts    *tenantState
	a     Actor
	st    ticketState // zero for a System upload bound to no ticket yet
	lim   FileLimits
	used  int64 // the organization's files when the upload started (staged ones included)
	bytes int64 // stored by this upload
	files []File
	done  bool
}

// StartUpload begins storing files for a message the actor will write on conversation convID
// (a customer: on its own ticket). The actor must be allowed to write there now, or nothing is
// stored. The System may pass convID 0 for files of a ticket it is about to open (an email's
// attachments).
func (s *Service) StartUpload(ctx context.Context, org *catalog.Organization, a Actor, convID int64) (*Upload, error) {
	ts := s.tenant(org)
	u := &Upload{s: s, org: org, ts: ts, a: a, lim: s.files}
	if !(a.Kind == System && convID == 0) {
		st, err := s.state(ctx, org, ts, key(ts, a, convID))
		if err != nil {
			return nil, err
		}
		if err := allow(a, opWrite, st); err != nil {
			return nil, err
		}
		if st.Status == StatusClosed {
			return nil, apperr.New(apperr.Conflict, CodeTicketClosed)
		}
		u.st = st
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return nil, err
	}
	defer release()
	// Files staged by uploads a crash broke off: looked for first (a read, from the local copy
	// on a replica), deleted only when there are some.
	stale := s.now().Add(-staleUpload).Unix()
	var found int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM attachments
		WHERE message_id IS NULL AND created_at < ? LIMIT 1)`, stale).Scan(&found); err != nil {
		return nil, fmt.Errorf("desk.StartUpload: %w", err)
	}
	if found > 0 {
		if _, err := db.db.ExecContext(ctx, `DELETE FROM attachments WHERE message_id IS NULL AND created_at < ?`, stale); err != nil {
			return nil, fmt.Errorf("desk.StartUpload: %w", err)
		}
	}
	if err := db.db.QueryRowContext(ctx, `SELECT COALESCE(sum(size), 0) FROM attachments`).Scan(&u.used); err != nil {
		return nil, fmt.Errorf("desk.StartUpload: %w", err)
	}
	return u, nil
}

// Files returns the files stored so far.
func (u *Upload) Files() []File { return append([]File(nil), u.files...) }

// Add stores one file read from r. Its name is cleaned and its type sniffed from the content.
// A file over the size limit or the organization's quota (TooLarge), an empty one or one too
// many (Invalid), or a read error of r leaves nothing of it stored and is returned as is (the
// files added before stay until Discard). r is read once, ChunkSize bytes at a time.
func (u *Upload) Add(ctx context.Context, f NewFile, r io.Reader) (File, error) {
	if u.done {
		return File{}, apperr.New(apperr.Conflict, CodeUploadClosed)
	}
	if len(u.files) >= u.lim.MaxFiles {
		return File{}, apperr.Field(apperr.Invalid, "attachment", CodeTooManyFiles)
	}
	buf := make([]byte, ChunkSize)
	n, err := io.ReadFull(r, buf)
	switch {
	case n == 0 && (err == nil || errors.Is(err, io.EOF)):
		return File{}, apperr.Field(apperr.Invalid, "attachment", CodeEmptyFile)
	case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF):
		return File{}, err
	}
	last := err != nil // the whole file fits in the first chunk
	file := File{Name: files.CleanName(f.Name), Type: files.Sniff(buf[:n]), ContentID: strings.TrimSpace(f.ContentID),
		CreatedAt: stamp(u.s.now)}
	if file.Name == files.DefaultName {
		file.Name += files.Ext(file.Type)
	}
	if err := checkText("attachment", file.Name); err != nil {
		return File{}, err
	}
	if strings.ContainsRune(file.ContentID, 0) || len(file.ContentID) > 998 {
		file.ContentID = ""
	}
	if err := u.with(ctx, func(db *store) error {
		return db.db.QueryRowContext(ctx, `INSERT INTO attachments (name, type, content_id, created_at)
			VALUES (?, ?, ?, ?) RETURNING id`, file.Name, file.Type, file.ContentID, file.CreatedAt.Unix()).Scan(&file.ID)
	}); err != nil {
		return File{}, fmt.Errorf("desk.Upload.Add: %w", err)
	}
	h := sha256.New()
	err = func() error {
		for seq := 0; ; seq++ {
			chunk := buf[:n]
			if file.Size+int64(n) > u.lim.MaxFileBytes {
				return apperr.Field(apperr.TooLarge, "attachment", CodeFileTooLarge)
			}
			if q := u.lim.QuotaBytes; q > 0 && u.used+u.bytes+int64(n) > q {
				return apperr.Field(apperr.TooLarge, "attachment", CodeQuotaExceeded)
			}
			if err := u.with(ctx, func(db *store) error {
				return db.inTx(ctx, "Upload.Add", func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, `INSERT INTO attachment_chunks (attachment_id, seq, data) VALUES (?, ?, ?)`,
						file.ID, seq, chunk); err != nil {
						return err
					}
					_, err := tx.ExecContext(ctx, `UPDATE attachments SET size = size + ? WHERE id = ?`, n, file.ID)
					return err
				})
			}); err != nil {
				return err
			}
			h.Write(chunk)
			file.Size += int64(n)
			u.bytes += int64(n)
			if last {
				return nil
			}
			n, err = io.ReadFull(r, buf)
			switch {
			case n == 0 && errors.Is(err, io.EOF):
				return nil
			case errors.Is(err, io.ErrUnexpectedEOF):
				last = true
			case err != nil:
				return err
			}
		}
	}()
	if err == nil {
		copy(file.SHA256[:], h.Sum(nil))
		err = u.with(ctx, func(db *store) error {
			_, err := db.db.ExecContext(ctx, `UPDATE attachments SET sha256 = ? WHERE id = ?`, file.SHA256[:], file.ID)
			return err
		})
	}
	if err != nil {
		u.bytes -= file.Size
		u.remove(file.ID)
		return File{}, err
	}
	u.files = append(u.files, file)
	return file, nil
}

// Discard deletes every file the upload stored, unless a message took them. A nil Upload
// has nothing to discard.
func (u *Upload) Discard() {
	if u == nil || u.done {
		return
	}
	u.done = true
	for _, f := range u.files {
		u.remove(f.ID)
	}
	u.files, u.bytes = nil, 0
}

// remove deletes a staged file (its chunks go with it). It runs whatever became of the
// request's context (a client that went away still leaves nothing behind); a failure is
// logged, and the next upload's sweep deletes the file later.
func (u *Upload) remove(id int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := u.with(ctx, func(db *store) error {
		_, err := db.db.ExecContext(ctx, `DELETE FROM attachments WHERE id = ? AND message_id IS NULL`, id)
		return err
	})
	if err != nil {
		u.s.log.Warn("discard staged attachment", "db", u.ts.t.Name, "attachment", id, "err", err)
	}
}

// with runs fn on the tenant's database, held only for fn.
func (u *Upload) with(ctx context.Context, fn func(db *store) error) error {
	db, release, err := u.s.store(ctx, u.org, u.ts)
	if err != nil {
		return err
	}
	defer release()
	return fn(db)
}

// link gives the upload's files to message messageID, in the transaction tx that stores the
// message: a desk write that stores a message with files calls it. It fails (Conflict) when a
// file is no longer staged. A nil Upload links nothing. (The quota was applied as the files arrived: against what the
// organization stored when the upload began, staged files of other uploads included.)
func (u *Upload) link(ctx context.Context, tx querier, messageID int64) ([]File, error) {
	if u == nil {
		return nil, nil
	}
	if u.done {
		return nil, apperr.New(apperr.Conflict, CodeUploadClosed)
	}
	if len(u.files) == 0 {
		return nil, nil
	}
	ids := make([]any, 0, len(u.files)+1)
	ids = append(ids, messageID)
	for _, f := range u.files {
		ids = append(ids, f.ID)
	}
	res, err := tx.ExecContext(ctx, `UPDATE attachments SET message_id = ? WHERE message_id IS NULL AND id IN (?`+
		strings.Repeat(", ?", len(u.files)-1)+`)`, ids...)
	if err != nil {
		return nil, err
	}
	if n, err := res.RowsAffected(); err != nil || n != int64(len(u.files)) {
		return nil, apperr.New(apperr.Conflict, CodeUploadExpired)
	}
	out := make([]File, len(u.files))
	for i, f := range u.files {
		f.MessageID = messageID
		out[i] = f
	}
	return out, nil
}

// sent marks the upload's files as the message's (after its transaction committed).
func (u *Upload) sent() {
	if u != nil {
		u.done = true
	}
}

// AddMessageWithFiles is AddMessage with the files of up attached to the message: a message
// may be files alone (body ""). up must have been started by the same actor on the same
// conversation. On success the files belong to the message; on failure they stay staged until
// up.Discard.
func (s *Service) AddMessageWithFiles(ctx context.Context, org *catalog.Organization, a Actor, convID int64, body string, up *Upload) (Message, error) {
	if up == nil || len(up.files) == 0 {
		return s.AddMessage(ctx, org, a, convID, body)
	}
	if up.s != s || up.org.ID != org.ID || up.org.DBName != org.DBName || up.a != a || up.st.TicketID == 0 {
		return Message{}, apperr.New(apperr.Forbidden, CodeForbidden)
	}
	if body != "" {
		if err := checkText("message", body); err != nil {
			return Message{}, err
		}
	}
	m, err := s.addMessage(ctx, org, a, convID, body, up)
	if err == nil {
		up.sent()
	}
	return m, err
}

// Download is a file the actor may read, ready to be served.
type Download struct {
	File
	s   *Service
	org *catalog.Organization
	ts  *tenantState
}

// Download returns file id of a message on the ticket the actor names — a customer its own
// (convID is ignored), the team conversation convID — if the actor may see that message
// (customers: their conversation, never a note). Anything else, another tenant's or a staged
// file included, is NotFound (CodeFileNotFound).
func (s *Service) Download(ctx context.Context, org *catalog.Organization, a Actor, convID, id int64) (*Download, error) {
	notFound := apperr.New(apperr.NotFound, CodeFileNotFound)
	if a.Kind != Customer && mayWork(a) != nil {
		return nil, notFound
	}
	ts := s.tenant(org)
	st, err := s.state(ctx, org, ts, key(ts, a, convID))
	if apperr.Is(err, apperr.NotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	if err := allow(a, opRead, st); err != nil {
		return nil, notFound
	}
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return nil, err
	}
	defer release()
	var f File
	var conv int64
	var sender string
	var hash []byte
	var created int64
	err = db.db.QueryRowContext(ctx, `SELECT a.id, a.message_id, CAST(a.name AS BLOB), CAST(a.type AS BLOB), a.size,
		a.sha256, CAST(a.content_id AS BLOB), a.created_at, m.conversation_id, CAST(m.sender AS BLOB)
		FROM attachments a JOIN messages m ON m.id = a.message_id WHERE a.id = ?`, id).
		Scan(&f.ID, &f.MessageID, &f.Name, &f.Type, &f.Size, &hash, &f.ContentID, &created, &conv, &sender)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("desk.Download: %w", err)
	}
	if conv != st.ConversationID || (a.Kind == Customer && sender != SenderCustomer && sender != SenderAgent) {
		return nil, notFound
	}
	copy(f.SHA256[:], hash)
	f.CreatedAt = unix(created)
	// A copy: the reader runs after the request that asked has ended.
	o := *org
	return &Download{File: f, s: s, org: &o, ts: ts}, nil
}

// Reader returns n bytes of the file from offset off (n < 0: to the end), read a chunk at a
// time as the caller reads: the tenant's database is held only while a chunk is read, never
// while the caller writes it to a slow client.
func (d *Download) Reader(off, n int64) io.Reader {
	if off < 0 || off > d.Size {
		off = d.Size
	}
	if n < 0 || off+n > d.Size {
		n = d.Size - off
	}
	return &chunkReader{d: d, off: off, end: off + n}
}

type chunkReader struct {
	d        *Download
	off, end int64
	buf      []byte // what is left of the current chunk
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.off >= r.end {
			return 0, io.EOF
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	k := copy(p, r.buf)
	r.buf = r.buf[k:]
	return k, nil
}

// fill reads the chunk holding r.off and keeps its part from r.off up to r.end.
func (r *chunkReader) fill() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seq := r.off / ChunkSize
	db, release, err := r.d.s.store(ctx, r.d.org, r.d.ts)
	if err != nil {
		return err
	}
	var data []byte
	err = db.db.QueryRowContext(ctx, `SELECT data FROM attachment_chunks WHERE attachment_id = ? AND seq = ?`, r.d.ID, seq).Scan(&data)
	release()
	if err != nil {
		return fmt.Errorf("desk.Download: chunk %d of attachment %d: %w", seq, r.d.ID, err)
	}
	from := r.off - seq*ChunkSize
	if from >= int64(len(data)) {
		return fmt.Errorf("desk.Download: attachment %d is shorter than its size", r.d.ID)
	}
	data = data[from:]
	if rest := r.end - r.off; int64(len(data)) > rest {
		data = data[:rest]
	}
	r.buf = bytes.Clone(data)
	r.off += int64(len(data))
	return nil
}

// Storage is what an organization stores: its files, its quota and its whole database.
type Storage struct {
	Files, FileBytes int64
	// QuotaBytes bounds FileBytes (0: no bound).
	QuotaBytes int64
	// DatabaseBytes is the size of the organization's database, files included.
	DatabaseBytes int64
}

// Storage returns the organization's storage figures, for the team.
func (s *Service) Storage(ctx context.Context, org *catalog.Organization, a Actor) (Storage, error) {
	if err := mayWork(a); err != nil {
		return Storage{}, err
	}
	db, release, err := s.store(ctx, org, s.tenant(org))
	if err != nil {
		return Storage{}, err
	}
	defer release()
	st := Storage{QuotaBytes: s.files.QuotaBytes}
	if err := db.db.QueryRowContext(ctx, `SELECT count(*), COALESCE(sum(size), 0) FROM attachments`).Scan(&st.Files, &st.FileBytes); err != nil {
		return st, fmt.Errorf("desk.Storage: %w", err)
	}
	if err := db.db.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&st.DatabaseBytes); err != nil {
		return st, fmt.Errorf("desk.Storage: %w", err)
	}
	return st, nil
}

// FileLimits returns the limits files are stored under.
func (s *Service) FileLimits() FileLimits { return s.files }

// messageFiles fills in the files of msgs (one query for all of them).
func messageFiles(ctx context.Context, q querier, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	ids := make([]any, len(msgs))
	at := make(map[int64]int, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
		at[m.ID] = i
	}
	rows, err := q.QueryContext(ctx, `SELECT id, message_id, CAST(name AS BLOB), CAST(type AS BLOB), size, sha256,
		CAST(content_id AS BLOB), created_at FROM attachments WHERE message_id IN (?`+strings.Repeat(", ?", len(ids)-1)+`)
		ORDER BY message_id, id`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var f File
		var hash []byte
		var created int64
		if err := rows.Scan(&f.ID, &f.MessageID, &f.Name, &f.Type, &f.Size, &hash, &f.ContentID, &created); err != nil {
			return err
		}
		copy(f.SHA256[:], hash)
		f.CreatedAt = unix(created)
		if i, ok := at[f.MessageID]; ok {
			msgs[i].Files = append(msgs[i].Files, f)
		}
	}
	return rows.Err()
}

// emailFiles returns files ids of message msgID, in that order, for an email that carries
// them: each is read from the database a chunk at a time as the email is written. NotFound
// (CodeFileNotFound) when one is no longer the message's.
func (s *Service) emailFiles(ctx context.Context, org *catalog.Organization, msgID int64, ids []int64) ([]email.OutFile, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ts := s.tenant(org)
	db, release, err := s.store(ctx, org, ts)
	if err != nil {
		return nil, err
	}
	msg := []Message{{ID: msgID}}
	err = messageFiles(ctx, db.db, msg)
	release()
	if err != nil {
		return nil, fmt.Errorf("desk.emailFiles: %w", err)
	}
	found := make(map[int64]File, len(msg[0].Files))
	for _, f := range msg[0].Files {
		found[f.ID] = f
	}
	o := *org
	out := make([]email.OutFile, 0, len(ids))
	for _, id := range ids {
		f, ok := found[id]
		if !ok {
			return nil, apperr.New(apperr.NotFound, CodeFileNotFound)
		}
		d := &Download{File: f, s: s, org: &o, ts: ts}
		out = append(out, email.OutFile{Name: f.Name, ContentType: f.Type, Data: d.Reader(0, -1)})
	}
	return out, nil
}
