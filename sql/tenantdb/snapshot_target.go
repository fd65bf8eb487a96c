package tenantdb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/tenantdesk/tenantdesk/sql/fileperm"
)

// snapshotTarget readies path for a snapshot: it must not exist (or be empty), and it is
// created empty and owner-only before SQLite writes into it, since SQLite would create it with
// the umask's mode (a snapshot holds the whole tenant). VACUUM INTO accepts an empty file.
func snapshotTarget(path string) error {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fileperm.Touch(path)
	case err != nil:
		return err
	case !info.Mode().IsRegular() || info.Size() > 0:
		return fmt.Errorf("snapshot target %s exists", path)
	}
	return os.Chmod(path, fileperm.File)
}
