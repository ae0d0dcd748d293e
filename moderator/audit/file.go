package audit

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
)

// FileSink appends events to a file as JSON lines, one object per event
// with the Field* names as keys. Each event is one write(2) on a file
// opened with O_APPEND, so lines from concurrent writers never interleave.
type FileSink struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

var _ Sink = (*FileSink)(nil)

// OpenFile opens (or creates, mode 0600) the JSON-lines file at path for
// appending.
func OpenFile(path string) (*FileSink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open %s: %v", path, err)
	}
	return &FileSink{f: f, path: path}, nil
}

// Record appends the event as one line.
func (s *FileSink) Record(e Event) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: encoding an event: %v", err)
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return fmt.Errorf("audit: %s is closed", s.path)
	}
	if _, err := s.f.Write(line); err != nil {
		return fmt.Errorf("audit: writing %s: %v", s.path, err)
	}
	return nil
}

// Close closes the file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("audit: closing %s: %v", s.path, err)
	}
	return nil
}
