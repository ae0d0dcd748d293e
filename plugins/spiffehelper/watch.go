package spiffehelper

import (
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	// maxRetries bounds how often a file that could not be taken is read
	// again without a new event; the next event starts over.
	maxRetries = 5
	// maxBackoff caps the wait between those reads.
	maxBackoff = time.Second
)

func (s *source) start() { go s.run() }

// stop ends the watch and waits for it.
func (s *source) stop() {
	close(s.quit)
	<-s.done
}

// run reads the directory again a debounce after any change in it. It
// watches the directory, not the files, so it sees every way a file is
// replaced: spiffe-helper's in-place truncate-and-write, a rename over the
// file, and Kubernetes' swap of the ..data symlink. A file caught half
// written fails its checks and is read again: at the writer's next event,
// or after a short backoff.
func (s *source) run() {
	defer close(s.done)
	defer s.watcher.Close()
	var fire <-chan time.Time
	retrying := false
	attempt := 0
	if s.retry {
		attempt, retrying = 1, true
		fire = time.After(s.backoff(attempt))
	}
	warned := map[string]bool{}
	for {
		select {
		case <-s.quit:
			return
		case ev, ok := <-s.watcher.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			attempt = 0
			// An event cuts a retry's backoff short but never postpones a
			// pending read, so a stream of writes cannot starve it.
			if fire == nil || retrying {
				fire, retrying = time.After(s.cfg.debounce), false
			}
		case err, ok := <-s.watcher.Errors:
			if !ok {
				return
			}
			// Lost events (queue overflow): read everything again.
			s.p.logger().Warn("watching cert_dir", logDir, s.cfg.dir, logReason, err.Error())
			if fire == nil {
				fire = time.After(s.cfg.debounce)
			}
		case <-fire:
			fire, retrying = nil, false
			before := s.view
			problems := s.reload(time.Now())
			if s.view != before {
				s.p.publishFrom(s, s.view)
				s.logChanges(before, s.view)
			}
			if len(problems) == 0 {
				attempt = 0
				clear(warned)
				continue
			}
			s.debug(problems)
			attempt++
			if attempt <= maxRetries {
				fire, retrying = time.After(s.backoff(attempt)), true
				continue
			}
			for _, pr := range problems {
				if msg := pr.err.Error(); !warned[msg] {
					warned[msg] = true
					s.p.logger().Warn("file not taken", logFile, pr.path, logReason, msg)
				}
			}
		}
	}
}

// backoff doubles from the debounce up to maxBackoff.
func (s *source) backoff(attempt int) time.Duration {
	d := max(s.cfg.debounce, time.Millisecond)
	for range attempt {
		d *= 2
		if d >= maxBackoff {
			return maxBackoff
		}
	}
	return d
}
