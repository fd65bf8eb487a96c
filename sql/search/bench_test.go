package search

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantdesk/tenantdesk/sql/schema"
	"github.com/tenantdesk/tenantdesk/sql/sqlite"
)

// The benchmarks run on one tenant database of benchTickets tickets with benchPerTicket
// messages each (100,000 messages), built once per process:
//
//	GODEBUG=invalidptr=0 go test -tags libsqlite3 -run '^$' -bench . -benchtime 1x ./sql/search/
//
// BenchmarkFind reports the latency percentiles of a mix of queries as people type them;
// BenchmarkInsert the messages written per second, each in its own transaction as the store
// writes them, with and without the index's document.
const (
	benchTickets   = 10_000
	benchPerTicket = 10
)

var (
	benchOnce sync.Once
	benchDB   *sql.DB
	benchErr  error
	benchDir  string
	benchLoad time.Duration
)

// supportWords are the common words of the corpus (Zipf-distributed); the long tail is made
// of generated words, names and order numbers.
var supportWords = strings.Fields(`the i my to a and is it not of for you in on have
	this order please can with was be that we your but at account help thanks hello issue problem
	when refund payment card invoice password login email reset error working app page shipping
	delivery package tracking number customer support ticket charged twice subscription cancel
	plan upgrade billing address update phone mobile android iphone browser chrome firefox cache
	cookie session logout settings profile photo upload file pdf download export report data
	missing wrong broken slow crash freeze screen button click form submit save delete restore
	backup sync calendar notification message reply attachment invoice receipt tax discount code
	coupon price discount return exchange size colour damaged late week yesterday today tomorrow
	monday friday morning evening urgent asap still again already never always café résumé
	naïve façade über crème brûlée garçon`)

func benchCorpus(b *testing.B) *sql.DB {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		benchDB, benchErr = buildCorpus()
		benchLoad = time.Since(start)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchDB
}

func buildCorpus() (*sql.DB, error) {
	dir, err := os.MkdirTemp("", "search-bench-")
	if err != nil {
		return nil, err
	}
	benchDir = dir
	db, err := sqlite.Open(filepath.Join(dir, "tenant.db"), 1)
	if err != nil {
		return nil, err
	}
	if _, err := schema.Up(db, tenantMigrations); err != nil {
		return nil, err
	}
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rand.New(rand.NewPCG(3, 4)), 1.1, 2, uint64(len(supportWords)-1))
	text := func(n int) string {
		w := make([]string, n)
		for i := range w {
			switch x := r.IntN(10); {
			case x < 7:
				w[i] = supportWords[zipf.Uint64()]
			case x < 9:
				w[i] = syllables(r)
			default:
				w[i] = fmt.Sprint(r.IntN(100000))
			}
		}
		return strings.Join(w, " ")
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO agents (id, full_name, email, password_hash,
		created_at, updated_at) VALUES (1, 'Agent', 'agent@example.com', 'x', 0, 0)`); err != nil {
		return nil, err
	}
	const batch = 500
	for t0 := 0; t0 < benchTickets; t0 += batch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		for t := t0; t < t0+batch; t++ {
			at := int64(1_700_000_000 + t*600)
			name := syllables(r) + " " + syllables(r)
			email := fmt.Sprintf("%s%d@example.com", syllables(r), t)
			q := text(8 + r.IntN(20))
			res, err := tx.ExecContext(ctx, `INSERT INTO contacts (email, name, created_at,
				updated_at) VALUES (?, ?, ?, ?)`, email, name, at, at)
			if err != nil {
				tx.Rollback()
				return nil, err
			}
			contact, _ := res.LastInsertId()
			res, err = tx.ExecContext(ctx, `INSERT INTO tickets (contact_id, customer_name,
				customer_email, query, token_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				contact, name, email, q, fmt.Appendf(nil, "tok%d", t), at, at)
			if err != nil {
				tx.Rollback()
				return nil, err
			}
			tid, _ := res.LastInsertId()
			res, err = tx.ExecContext(ctx, `INSERT INTO conversations (ticket_id, created_at)
				VALUES (?, ?)`, tid, at)
			if err != nil {
				tx.Rollback()
				return nil, err
			}
			cid, _ := res.LastInsertId()
			if _, err := tx.ExecContext(ctx, `INSERT INTO messages (conversation_id, sender,
				body, created_at) VALUES (?, 'customer', ?, ?)`, cid, q, at); err != nil {
				tx.Rollback()
				return nil, err
			}
			for m := range benchPerTicket {
				body := text(10 + r.IntN(40))
				mat := at + int64(m*60)
				if _, err := tx.ExecContext(ctx, `INSERT INTO messages (conversation_id, sender,
					body, created_at) VALUES (?, 'customer', ?, ?)`, cid, body, mat); err != nil {
					tx.Rollback()
					return nil, err
				}
			}
		}
		if err := tx.Commit(); err != nil {
			return nil, err
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO ticket_search (ticket_search) VALUES ('optimize')`); err != nil {
		return nil, err
	}
	// go-libsql's Exec refuses statements that return rows: the checkpoint runs as a query.
	rows, err := db.QueryContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	if err != nil {
		return nil, err
	}
	return db, rows.Close()
}

var sylls = strings.Fields("ka lo mi ne ru sa ti vo be da fe gi ho ju ly mo ny pa qu re si to")

func syllables(r *rand.Rand) string {
	var b strings.Builder
	for range 2 + r.IntN(3) {
		b.WriteString(sylls[r.IntN(len(sylls))])
	}
	return b.String()
}

// benchQueries are typed searches: common and rare words, short prefixes as someone types,
// several words, a phrase, accents, a ticket number, a filter.
var benchQueries = []struct {
	name, input string
	filter      string
}{
	{"common word", "order", ""},
	{"common two words", "refund payment", ""},
	{"rare word", "brûlée", ""},
	{"two-letter prefix", "re", ""},
	{"three-letter prefix", "pas", ""},
	{"typing", "password res", ""},
	{"phrase", `"charged twice"`, ""},
	{"accents", "cafe resume", ""},
	{"ticket number", "#4711", ""},
	{"generated name", "kalo", ""},
	{"no match", "zzzzqx", ""},
	{"common word, filtered", "invoice", "t.status = 'open'"},
	{"very common word", "the", ""},
}

func BenchmarkFind(b *testing.B) {
	db := benchCorpus(b)
	ctx := context.Background()
	b.Logf("corpus: %d tickets, %d messages, loaded in %v", benchTickets, benchTickets*benchPerTicket, benchLoad.Round(time.Millisecond))
	share := indexShare(b, db)
	var all []time.Duration
	for _, q := range benchQueries {
		b.Run(q.name, func(b *testing.B) {
			parsed := Parse(q.input)
			opt := Options{Staff: true, Filter: q.filter}
			var lat []time.Duration
			var hits int
			// At least 50 runs per query for the percentiles, whatever b.N.
			for i := 0; i < max(b.N, 50); i++ {
				start := time.Now()
				res, err := Find(ctx, db, parsed, opt)
				lat = append(lat, time.Since(start))
				if err != nil {
					b.Fatal(err)
				}
				hits = len(res.Hits)
			}
			all = append(all, lat...)
			b.ReportMetric(ms(pct(lat, 50)), "p50-ms")
			b.ReportMetric(ms(pct(lat, 99)), "p99-ms")
			b.ReportMetric(float64(hits), "hits")
			b.ReportMetric(0, "ns/op")
		})
	}
	b.Logf("all queries: p50 %.2f ms, p99 %.2f ms, max %.2f ms over %d searches; index %.1f%% of the database",
		ms(pct(all, 50)), ms(pct(all, 99)), ms(pct(all, 100)), len(all), share)
}

// BenchmarkIndexSize reports the database's size and the index's share of it (dbstat).
func BenchmarkIndexSize(b *testing.B) {
	db := benchCorpus(b)
	share := indexShare(b, db)
	var pages, size int64
	if err := db.QueryRow(`SELECT page_count, page_size FROM pragma_page_count, pragma_page_size`).Scan(&pages, &size); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(share, "index-%")
	b.ReportMetric(float64(pages*size)/1e6, "db-MB")
	b.ReportMetric(0, "ns/op")
}

// indexShare logs the database's size by object (dbstat) and returns the index's share.
func indexShare(b *testing.B, db *sql.DB) float64 {
	rows, err := db.Query(`SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total, index int64
	var lines []string
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			b.Fatal(err)
		}
		total += size
		if strings.HasPrefix(name, Table) {
			index += size
		}
		lines = append(lines, fmt.Sprintf("%s %.1f MB", name, float64(size)/1e6))
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	b.Logf("database %.1f MB: %s", float64(total)/1e6, strings.Join(lines, ", "))
	return 100 * float64(index) / float64(total)
}

func BenchmarkInsert(b *testing.B) {
	db := benchCorpus(b)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(5, 6))
	insert := func(b *testing.B, n, perTx int, indexed bool) time.Duration {
		start := time.Now()
		for done := 0; done < n; done += perTx {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			for range perTx {
				tid := int64(1 + r.IntN(benchTickets)) // conversation id = ticket id here
				body := strings.Repeat(supportWords[r.IntN(len(supportWords))]+" "+syllables(r)+" ", 12)
				// An activity line is the same row with no document (the triggers skip it).
				sender := "activity"
				if indexed {
					sender = "agent"
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO messages (conversation_id, sender,
					body, created_at) VALUES (?, ?, ?, ?)`, tid, sender, body, 1_800_000_000); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}
		return time.Since(start)
	}
	for _, perTx := range []int{1, 100} {
		b.Run(fmt.Sprintf("messages-per-tx=%d", perTx), func(b *testing.B) {
			// The two variants alternate in rounds, so that drift (the WAL growing, the
			// machine's load) falls on both alike.
			const rounds, perRound = 4, 200
			var plain, indexed time.Duration
			for range max(b.N, 1) * rounds {
				plain += insert(b, perRound, perTx, false)
				indexed += insert(b, perRound, perTx, true)
			}
			n := float64(max(b.N, 1) * rounds * perRound)
			b.ReportMetric(n/plain.Seconds(), "plain-msgs/s")
			b.ReportMetric(n/indexed.Seconds(), "indexed-msgs/s")
			b.ReportMetric(plain.Seconds()/indexed.Seconds(), "indexed/plain")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
