//go:build linux && cgo

// Package sqlitetest reaches the SQLite engine linked into the program (libSQL's) directly, for
// tests of package sqlite: it counts the misuse reports SQLite logs, and opens and closes raw
// connections without going through libSQL.
package sqlitetest

/*
#define _GNU_SOURCE // pthread_setname_np
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct sqlite3 sqlite3;
int sqlite3_config(int op, ...);
int sqlite3_open_v2(const char *path, sqlite3 **db, int flags, const char *vfs);
int sqlite3_close_v2(sqlite3 *db);

static uint64_t misuses;

static void count_misuse(void *arg, int code, const char *msg) {
	if ((code & 0xff) == 21) { // SQLITE_MISUSE, whatever the extended code
		__atomic_add_fetch(&misuses, 1, __ATOMIC_SEQ_CST);
	}
}

// SQLITE_CONFIG_LOG (16) may be set at any time since SQLite 3.42.
static int start_misuse_log(void) { return sqlite3_config(16, count_misuse, (void *)0); }
static uint64_t misuse_count(void) { return __atomic_load_n(&misuses, __ATOMIC_SEQ_CST); }

// SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
static int open_rw(const char *path, sqlite3 **db) { return sqlite3_open_v2(path, db, 0x2 | 0x4, NULL); }

static int set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }

struct close_once_args { const char *path; const char *name; int rc; };

static void *close_once_main(void *p) {
	struct close_once_args *a = p;
	sqlite3 *db = NULL;
	a->rc = set_thread_name(a->name);
	if (a->rc != 0) return NULL;
	a->rc = open_rw(a->path, &db);
	if (a->rc != 0) {
		if (db != NULL) sqlite3_close_v2(db); // SQLite allocates a handle even when opening fails
		return NULL;
	}
	a->rc = sqlite3_close_v2(db);
	return NULL;
}

// Opens path and closes it once on a new thread called name, which then exits.
static int close_once_on_thread(const char *path, const char *name) {
	struct close_once_args a = { path, name, 0 };
	pthread_t th;
	int rc = pthread_create(&th, NULL, close_once_main, &a);
	if (rc != 0) return rc;
	rc = pthread_join(th, NULL);
	return rc != 0 ? rc : a.rc;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// StartMisuseLog makes SQLite report every SQLITE_MISUSE it logs to Misuses (for the rest of
// the process). SQLite logs one whenever an API call is handed a connection that is not open,
// such as one closed before.
func StartMisuseLog() error {
	if rc := C.start_misuse_log(); rc != 0 {
		return fmt.Errorf("sqlitetest: sqlite3_config(SQLITE_CONFIG_LOG) = %d", rc)
	}
	return nil
}

// Misuses returns how many SQLITE_MISUSE reports SQLite has logged since StartMisuseLog.
func Misuses() uint64 { return uint64(C.misuse_count()) }

// NameThread gives the calling OS thread a name (at most 15 bytes). Lock the goroutine to its
// thread first, and leave it locked so that the thread ends with the goroutine.
func NameThread(name string) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	if rc := C.set_thread_name(cname); rc != 0 {
		return fmt.Errorf("sqlitetest: pthread_setname_np(%q) = %d", name, rc)
	}
	return nil
}

// CloseOnceOnThread opens the database file at path and closes it once on a new OS thread
// called name, and returns when that thread has exited.
func CloseOnceOnThread(path, name string) error {
	cpath, cname := C.CString(path), C.CString(name)
	defer C.free(unsafe.Pointer(cpath))
	defer C.free(unsafe.Pointer(cname))
	if rc := C.close_once_on_thread(cpath, cname); rc != 0 {
		return fmt.Errorf("sqlitetest: open and close %s on thread %q = %d", path, name, rc)
	}
	return nil
}

// Conn is a raw SQLite connection handle.
type Conn struct{ db *C.sqlite3 }

// Open opens (creating it if needed) the database file at path with sqlite3_open_v2.
func Open(path string) (Conn, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var db *C.sqlite3
	if rc := C.open_rw(cpath, &db); rc != 0 {
		if db != nil {
			C.sqlite3_close_v2(db)
		}
		return Conn{}, fmt.Errorf("sqlitetest: sqlite3_open_v2(%s) = %d", path, rc)
	}
	return Conn{db: db}, nil
}

// Close calls sqlite3_close_v2 on the handle and returns its result code. Calling it twice on
// the same Conn repeats what libSQL does.
func (c Conn) Close() int { return int(C.sqlite3_close_v2(c.db)) }
