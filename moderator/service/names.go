package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// namesFile keeps which participant name each member said Hello with, so
// operators can remove a participant by name after a restart. The roster in
// moderator.db stays the authority: a name missing here only means the
// operator must use the subject.
const namesFile = "participants.json"

// nameBook maps participant names to subjects, per channel.
type nameBook struct {
	path string

	mu sync.Mutex
	// names[channel][subject] = participant name
	names map[string]map[string]string
}

func openNameBook(path string) (*nameBook, error) {
	b := &nameBook{path: path, names: map[string]map[string]string{}}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return b, nil
	case err != nil:
		return nil, fmt.Errorf("service: participant names: %v", err)
	}
	if err := json.Unmarshal(raw, &b.names); err != nil {
		return nil, fmt.Errorf("service: %s is damaged (%v); remove it: participants are then listed by subject until they reconnect", path, err)
	}
	return b, nil
}

// name returns the participant name recorded for a subject.
func (b *nameBook) name(channel, subject string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.names[channel][subject]
}

// subject returns the subject recorded for a participant name.
func (b *nameBook) subject(channel, name string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for subject, n := range b.names[channel] {
		if n == name {
			return subject, true
		}
	}
	return "", false
}

// set records a name and saves the book if it changed.
func (b *nameBook) set(channel, subject, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.names[channel][subject] == name {
		return nil
	}
	if b.names[channel] == nil {
		b.names[channel] = map[string]string{}
	}
	// A name belongs to one subject at a time.
	for s, n := range b.names[channel] {
		if n == name {
			delete(b.names[channel], s)
		}
	}
	b.names[channel][subject] = name
	return b.save()
}

// forget drops a subject, or a whole channel when subject is empty.
func (b *nameBook) forget(channel, subject string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if subject == "" {
		delete(b.names, channel)
	} else {
		delete(b.names[channel], subject)
	}
	return b.save()
}

// save writes the book atomically.
func (b *nameBook) save() error {
	data, err := json.Marshal(b.names)
	if err != nil {
		return fmt.Errorf("service: participant names: %v", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(b.path), "."+namesFile+".*")
	if err != nil {
		return fmt.Errorf("service: saving participant names: %v", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), b.path)
	}
	if err != nil {
		return fmt.Errorf("service: saving participant names: %v", err)
	}
	return nil
}
