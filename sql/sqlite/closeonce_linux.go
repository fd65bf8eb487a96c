//go:build linux && cgo

package sqlite

// libSQL closes every local connection twice. go-libsql's conn.Close calls libsql_disconnect,
// which drops the Rust connection on a tokio thread a moment later; that drop runs
// `impl Drop for LibsqlConnection` (sqlite3_close_v2 on the handle) and then the Drop of its
// inner local::Connection, which calls sqlite3_close_v2 on the same handle again (libsql issue
// #2251; the fixes, libsql PRs #2261 and #2282, are not released, and go-libsql ships the
// library prebuilt). The first call frees the sqlite3 struct. The second usually reads the
// freed block, finds it closed and returns SQLITE_MISUSE unnoticed. But when another thread
// opens a database between the two calls and malloc hands it the same block, the second call
// closes that new connection under its owner: its next statement fails with SQLITE_MISUSE
// ("bad parameter or other API misuse"); once the block is reused yet again, the victim's next
// statement could even run on some other database's connection. Or the process dies ("double
// free or corruption", SIGSEGV in sqlite3_close_v2). With databases opening and closing all the
// time (the tenant LRU) that failed a quarter to a half of the registry's stress runs.
//
// The second call cannot be stopped and, being asynchronous, not waited for, so it is made
// harmless: the link routes sqlite3_close_v2 through the wrapper below. On the threads libSQL
// drops connections on (its tokio runtime's, named "tokio-runtime-worker"), the wrapper first
// prepares a statement on the connection, so that closing leaves it a "zombie" (closed, but
// still allocated until its last statement is finalized) instead of freeing it, and the thread
// remembers it. libSQL's duplicate comes next on the same thread, with nothing in between: the
// wrapper recognises it, finalizes the statement — SQLite frees the connection now — and does
// not call sqlite3_close_v2 again. While the zombie is held its memory cannot be reused, so no
// other connection can be mistaken for it. A connection that thread closes only once (a
// statement of it outlived the connection) is freed at the thread's next close, or when the
// thread exits. On every other thread (mattn/go-sqlite3's session storage, a Go goroutine's)
// sqlite3_close_v2 is called directly.
//
// --wrap is a GNU ld (and lld) option, hence linux only; libSQL has the bug on every platform.
// TestCloseClosesConnectionOnce fails if a libSQL update renames its threads or changes how
// it closes.

/*
#cgo LDFLAGS: -Wl,--wrap=sqlite3_close_v2
#define _GNU_SOURCE // pthread_getname_np
#include <pthread.h>
#include <stddef.h>
#include <string.h>

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
int __real_sqlite3_close_v2(sqlite3 *db);
int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int n, sqlite3_stmt **stmt, const char **tail);
int sqlite3_finalize(sqlite3_stmt *stmt);

// The connection this thread closed last, kept allocated by the statement stored under
// held_key (thread-specific, so that a thread that exits frees what it holds).
static __thread sqlite3 *held_db;
static pthread_key_t held_key;
static pthread_once_t held_once = PTHREAD_ONCE_INIT;

static void free_held_at_exit(void *stmt) { sqlite3_finalize((sqlite3_stmt *)stmt); }
static void make_held_key(void) { pthread_key_create(&held_key, free_held_at_exit); }

// on_libsql_thread reports whether this is a thread of libSQL's tokio runtime (Linux keeps 15
// bytes of "tokio-runtime-worker").
static int on_libsql_thread(void) {
	char name[16];
	if (pthread_getname_np(pthread_self(), name, sizeof name) != 0) {
		return 0;
	}
	return strncmp(name, "tokio-runtime-w", 15) == 0;
}

int __wrap_sqlite3_close_v2(sqlite3 *db) {
	pthread_once(&held_once, make_held_key);
	sqlite3 *prev = held_db;
	if (prev != NULL) {
		sqlite3_stmt *stmt = (sqlite3_stmt *)pthread_getspecific(held_key);
		held_db = NULL;
		pthread_setspecific(held_key, NULL);
		sqlite3_finalize(stmt); // the zombie's last statement: SQLite frees it
		if (prev == db) {
			return 0; // the duplicate close: already closed, now freed
		}
	}
	if (db == NULL || !on_libsql_thread()) {
		return __real_sqlite3_close_v2(db);
	}
	sqlite3_stmt *keep = NULL;
	if (sqlite3_prepare_v2(db, "SELECT 1", -1, &keep, NULL) != 0 || keep == NULL) {
		// Not an open connection (already a zombie, or broken): nothing to hold.
		return __real_sqlite3_close_v2(db);
	}
	int rc = __real_sqlite3_close_v2(db);
	if (rc != 0) {
		sqlite3_finalize(keep); // still open: let go of the statement, report the error
		return rc;
	}
	held_db = db;
	if (pthread_setspecific(held_key, keep) != 0) {
		held_db = NULL;
		sqlite3_finalize(keep); // cannot hold it: free it now, as libSQL alone would
	}
	return rc;
}
*/
import "C"
