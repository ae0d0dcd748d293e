package spiffehelper

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/slimid/slimid/sdk"
)

// view is one immutable picture of what the plugin serves.
type view struct {
	cfg   *settings
	keys  *keys  // nil until key.jwt was read
	token *token // nil until a valid JWT-SVID was read
	// tokenProblem says why there is no token, for Status.
	tokenProblem string
	x509         *x509Files // nil until the X.509 files agreed
	// emptyGeneration numbers the empty key snapshot published while
	// key.jwt has not been read.
	emptyGeneration uint64
}

// snapshot is the key snapshot of this view; empty until key.jwt is read.
func (v *view) snapshot() sdk.KeySnapshot {
	if v.keys != nil {
		return v.keys.snap
	}
	return sdk.KeySnapshot{Generation: v.emptyGeneration}
}

// problem is a file that could not be taken.
type problem struct {
	path string
	err  error
}

// source reads one cert_dir: a first view when it is opened, then a new one
// whenever the directory changes.
type source struct {
	cfg     *settings
	p       *Plugin
	watcher *fsnotify.Watcher
	// view is the last view read; the run goroutine owns it once started.
	view *view
	// retry: the first read found a file worth reading again.
	retry bool
	quit  chan struct{}
	done  chan struct{}
}

// openSource watches cfg.dir and reads it once. Watching starts first, so a
// write that lands during the first read is not missed.
func openSource(cfg *settings, p *Plugin) (*source, error) {
	info, err := os.Stat(cfg.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, sdk.InvalidConfig("cert_dir %q does not exist: mount the directory spiffe-helper writes to", cfg.dir)
	case err != nil:
		return nil, sdk.InvalidConfig("cert_dir %q: %v", cfg.dir, err)
	case !info.IsDir():
		return nil, sdk.InvalidConfig("cert_dir %q is not a directory", cfg.dir)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, sdk.Unavailable("cannot watch cert_dir %q: %v", cfg.dir, err)
	}
	if err := w.Add(cfg.dir); err != nil {
		_ = w.Close()
		return nil, sdk.Unavailable("cannot watch cert_dir %q: %v", cfg.dir, err)
	}
	s := &source{cfg: cfg, p: p, watcher: w, view: &view{cfg: cfg, emptyGeneration: p.generation.Add(1)}, quit: make(chan struct{}), done: make(chan struct{})}
	problems := s.reload(time.Now())
	s.retry = len(problems) > 0
	s.debug(problems)
	return s, nil
}

// reload reads every file and returns a view that keeps, for each part, the
// last good value unless a complete and valid new one was read.
func (s *source) reload(now time.Time) []problem {
	old := s.view
	next := *old
	var problems []problem
	fail := func(path string, err error) { problems = append(problems, problem{path, err}) }

	if data, ok, err := readFile(s.cfg.bundlePath, MaxJWTBundleBytes); err != nil {
		fail(s.cfg.bundlePath, err)
	} else if ok && (old.keys == nil || !bytes.Equal(data, old.keys.raw)) {
		if k, err := buildKeys(data, s.cfg, s.p.generation.Add(1)); err != nil {
			fail(s.cfg.bundlePath, err)
		} else {
			next.keys = k
		}
	}
	if next.keys != old.keys && next.token != nil {
		// A token whose key left the bundle would be refused by peers.
		if _, err := verifyOwn(next.token.value, next.keys, now); err != nil {
			next.token = nil
			next.tokenProblem = err.Error()
		}
	}

	if data, ok, err := readFile(s.cfg.tokenPath, MaxTokenFileBytes); err != nil {
		fail(s.cfg.tokenPath, err)
	} else if !ok {
		if next.token == nil {
			next.tokenProblem = fmt.Sprintf("waiting for spiffe-helper to write %s", s.cfg.tokenPath)
		}
	} else if next.token == nil || !sameToken(data, next.token.value) {
		if t, err := checkToken(data, next.keys, next.token, now); err != nil {
			fail(s.cfg.tokenPath, err)
			if next.token == nil {
				next.tokenProblem = err.Error()
			}
		} else {
			next.token = t
			next.tokenProblem = ""
		}
	}

	s.reloadX509(&next, now, fail)

	if next != *old {
		s.view = &next
	}
	return problems
}

func (s *source) reloadX509(next *view, now time.Time, fail func(string, error)) {
	var files [3][]byte
	for i, path := range []string{s.cfg.certPath, s.cfg.keyPath, s.cfg.caPath} {
		data, ok, err := readFile(path, maxPEMBytes)
		if err != nil {
			fail(path, err)
			return
		}
		if !ok {
			return // X.509 files are optional: the plugin serves JWT-SVIDs without them.
		}
		files[i] = data
	}
	if next.x509.same(files[0], files[1], files[2]) {
		return
	}
	x, err := parseX509(s.cfg, files[0], files[1], files[2], now)
	if err != nil {
		fail(s.cfg.certPath, err)
		return
	}
	next.x509 = x
}

// logChanges logs what changed from old to next, once next is published.
func (s *source) logChanges(old, next *view) {
	log := s.p.logger()
	if old.token != nil && next.token == nil {
		log.Warn("JWT-SVID in use dropped after a key.jwt change", logFile, s.cfg.tokenPath, logReason, next.tokenProblem)
	}
	if next.keys != old.keys {
		log.Info("JWT bundle loaded", logFile, s.cfg.bundlePath, logDomains, len(next.keys.snap.KeySets), logGeneration, next.keys.snap.Generation)
		for _, why := range next.keys.skipped {
			log.Warn("JWT bundle key left out", logFile, s.cfg.bundlePath, logReason, why.Error())
		}
	}
	if next.token != old.token && next.token != nil {
		log.Info("JWT-SVID loaded", logFile, s.cfg.tokenPath, logSubject, next.token.id.Subject, logExpiresAt, next.token.id.ExpiresAt)
	}
	if next.x509 != old.x509 {
		log.Info("X.509-SVID loaded", logFile, s.cfg.certPath, logSubject, next.x509.svid.ID.String(), logExpiresAt, next.x509.svid.Certificates[0].NotAfter)
	}
}

func (s *source) debug(problems []problem) {
	for _, pr := range problems {
		s.p.logger().Debug("file not taken yet", logFile, pr.path, logReason, pr.err.Error())
	}
}

// sameToken reports whether a token file holds value (give or take trailing
// white space).
func sameToken(data []byte, value string) bool {
	return string(bytes.TrimRight(data, " \t\r\n")) == value
}

// readFile reads at most limit bytes of path; ok is false when the file does
// not exist (yet).
func readFile(path string, limit int64) (data []byte, ok bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(data)) > limit {
		return nil, false, fmt.Errorf("%s is larger than the %d bytes allowed", path, limit)
	}
	return data, true, nil
}
