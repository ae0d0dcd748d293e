package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

const (
	// FileName is the database file inside the state directory.
	FileName = "moderator.db"
	// SchemaVersion is the layout this package writes and reads.
	SchemaVersion = 1
	// lockTimeout bounds the wait for another process's lock on the file.
	lockTimeout = time.Second
	// maxNameBytes bounds a group name (bbolt keys may be far longer).
	maxNameBytes = 1024
)

// Store is the moderator's durable state in one bbolt file. It is safe for
// concurrent use; bbolt serializes writers.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens, or creates, dir/moderator.db. The directory is made mode
// 0700 and the file is created 0600; an existing file that others may read
// is refused, since it holds MLS secrets.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, classify(fmt.Sprintf("creating the state directory %s", dir), dir, err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil { //nolint:gosec // a directory needs x; 0700 is private
			return nil, classify(fmt.Sprintf("making the state directory %s private (mode 0700)", dir), dir, err)
		}
	}
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err == nil {
		if err := checkPrivate(path); err != nil {
			return nil, err
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return nil, classify("opening "+path, path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// checkPrivate refuses a file whose mode lets group or others in.
func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return classify("reading "+path, path, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("store: %s is open to other users (mode %o) and holds MLS secrets; run: chmod 600 %s", path, perm, path)
	}
	return nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: closing %s: %v", s.path, err)
	}
	return nil
}

var (
	metaBucket   = []byte("meta")
	groupsBucket = []byte("groups")
	schemaKey    = []byte("schema")

	infoKey      = []byte("info")
	epochKey     = []byte("epoch")
	stateKey     = []byte("state")
	rosterBucket = []byte("roster")
	outboxBucket = []byte("outbox")
	usedBucket   = []byte("used")
)

// init writes the schema version into a new file and checks it in an
// existing one.
func (s *Store) init() error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		if meta == nil {
			if tx.Bucket(groupsBucket) != nil {
				return fmt.Errorf("%w: %s has groups but no schema version; it was not written by slimid", ErrCorrupt, s.path)
			}
			var err error
			if meta, err = tx.CreateBucket(metaBucket); err != nil {
				return err
			}
			if err := meta.Put(schemaKey, []byte(strconv.Itoa(SchemaVersion))); err != nil {
				return err
			}
			_, err = tx.CreateBucket(groupsBucket)
			return err
		}
		v, err := strconv.Atoi(string(meta.Get(schemaKey)))
		switch {
		case err != nil:
			return fmt.Errorf("%w: %s has an unreadable schema version %q", ErrCorrupt, s.path, meta.Get(schemaKey))
		case v > SchemaVersion:
			return fmt.Errorf("%w: %s has schema %d, newer than this slimid's %d; upgrade slimid", ErrSchema, s.path, v, SchemaVersion)
		case v < SchemaVersion:
			return fmt.Errorf("%w: %s has schema %d, which this slimid cannot migrate", ErrSchema, s.path, v)
		}
		if tx.Bucket(groupsBucket) == nil {
			return fmt.Errorf("%w: %s has no groups bucket", ErrCorrupt, s.path)
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSchema) {
		return classify("initializing "+s.path, s.path, err)
	}
	return err
}

// Sentinel errors.
var (
	// ErrNotFound: no group by that name.
	ErrNotFound = errors.New("no such group")
	// ErrExists: a group by that name exists already.
	ErrExists = errors.New("group exists")
	// ErrEpoch: a change does not follow the stored epoch; it would fork
	// the group, so it is refused.
	ErrEpoch = errors.New("store: change out of epoch order")
	// ErrDiskFull: the disk (or a quota or file size limit) refused the
	// write. The previous state is intact.
	ErrDiskFull = errors.New("store: disk full")
	// ErrReadOnly: the state directory or file cannot be written.
	ErrReadOnly = errors.New("store: read-only")
	// ErrLocked: another process holds the database.
	ErrLocked = errors.New("store: in use by another process")
	// ErrSchema: the file has a schema this version cannot use.
	ErrSchema = errors.New("store: unsupported schema")
	// ErrCorrupt: the file's content is not what this package wrote.
	ErrCorrupt = errors.New("store: corrupt")
)

// classify turns an I/O failure into an error that says what to do.
func classify(op, path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrPermission), isErrno(err, syscall.EROFS):
		return fmt.Errorf("%w: %s: %v; make %s writable (or use another state directory); the previous state is intact", ErrReadOnly, op, err, path)
	case isErrno(err, syscall.ENOSPC), isErrno(err, syscall.EFBIG), isErrno(err, syscall.EDQUOT):
		return fmt.Errorf("%w: %s: %v; free space on the disk holding %s and retry; the previous state is intact", ErrDiskFull, op, err, path)
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w: %s: another process (a running moderator?) holds it; stop it or use another state directory", ErrLocked, op)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return fmt.Errorf("%w: %s: %v; restore the file from a backup", ErrCorrupt, op, err)
	}
	return fmt.Errorf("store: %s: %v", op, err)
}

// isErrno reports whether err is, or says it was caused by, errno: bbolt
// formats some causes (a failed file resize) as text, not as wrapped errors.
func isErrno(err error, errno syscall.Errno) bool {
	return errors.Is(err, errno) || strings.Contains(err.Error(), errno.Error())
}
