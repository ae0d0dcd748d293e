package jwt

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// settle is how long a directory must stay quiet before the files are read
// again: writers that truncate and then write in place (spiffe-helper,
// editors) leave a short window where the file is empty or partial.
const settle = 100 * time.Millisecond

// watchFiles watches the directories holding files and calls reload once
// events have settled. Watching the directory, not the file, catches the
// three ways key files change: in-place writes, renames over the file, and
// Kubernetes' `..data` symlink swaps (which never touch the file's own
// name). The watcher runs until ctx ends; wg tracks it.
func watchFiles(ctx context.Context, wg *sync.WaitGroup, log *slog.Logger, files []string, reload func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	var dirs []string
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			w.Close()
			return err
		}
		dir := filepath.Dir(abs)
		if slices.Contains(dirs, dir) {
			continue
		}
		if err := w.Add(dir); err != nil {
			w.Close()
			return fmt.Errorf("watch %s: %v", dir, err)
		}
		dirs = append(dirs, dir)
	}
	wg.Go(func() {
		defer w.Close()
		timer := time.NewTimer(settle)
		timer.Stop()
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				log.Debug("key directory changed", logFile, ev.Name, "op", ev.Op.String())
				timer.Reset(settle)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn("key directory watch error", logError, err.Error())
			case <-timer.C:
				reload()
			}
		}
	})
	return nil
}
