package memberclient

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/renameio/v2"

	"github.com/slimid/slimid/moderator/member"
	"github.com/slimid/slimid/moderator/mls"
)

// stateFormat versions the files below.
const stateFormat = 1

const (
	membershipsDir = "memberships"
	keyPackagesDir = "keypackages"
)

// stateDir keeps a client's secrets: memberships/<escaped channel>.json and
// keypackages/<ref>.json, mode 0600 in 0700 directories, written
// atomically.
type stateDir struct{ path string }

func openStateDir(path string) (*stateDir, error) {
	for _, sub := range []string{membershipsDir, keyPackagesDir} {
		if err := os.MkdirAll(filepath.Join(path, sub), 0o700); err != nil {
			return nil, fmt.Errorf("memberclient: state directory: %v", err)
		}
	}
	return &stateDir{path: path}, nil
}

type savedMembership struct {
	Format    int      `json:"format"`
	Channel   string   `json:"channel"`
	Member    []byte   `json:"member"`
	Subject   string   `json:"subject,omitempty"`
	Plugin    string   `json:"plugin,omitempty"`
	Audiences []string `json:"audiences,omitempty"`
}

type savedJoin struct {
	Format    int       `json:"format"`
	Channel   string    `json:"channel"`
	Bundle    []byte    `json:"bundle"`
	IssuedAt  time.Time `json:"issued_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Subject   string    `json:"subject,omitempty"`
	Plugin    string    `json:"plugin,omitempty"`
	Audiences []string  `json:"audiences,omitempty"`
}

func (d *stateDir) membershipPath(channel string) string {
	return filepath.Join(d.path, membershipsDir, url.PathEscape(channel)+".json")
}

func (d *stateDir) joinPath(ref mls.KeyPackageRef) string {
	return filepath.Join(d.path, keyPackagesDir, ref.String()+".json")
}

// saveMembership writes a membership; the caller holds ms.mu.
func (d *stateDir) saveMembership(ms *membership) error {
	if d == nil {
		return nil
	}
	state, err := ms.m.State()
	if err != nil {
		return err
	}
	data, err := json.Marshal(savedMembership{Format: stateFormat, Channel: ms.channel, Member: state,
		Subject: ms.subject, Plugin: ms.plugin, Audiences: ms.audiences})
	if err != nil {
		return fmt.Errorf("memberclient: %v", err)
	}
	return writeFile(d.membershipPath(ms.channel), data)
}

func (d *stateDir) deleteMembership(channel string) error {
	if d == nil {
		return nil
	}
	if err := os.Remove(d.membershipPath(channel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("memberclient: %v", err)
	}
	return nil
}

func (d *stateDir) loadMemberships() ([]*membership, error) {
	var out []*membership
	err := d.each(membershipsDir, func(path string, raw []byte) error {
		var s savedMembership
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		if s.Format != stateFormat {
			return fmt.Errorf("format %d, want %d", s.Format, stateFormat)
		}
		m, err := member.Restore(s.Member)
		if err != nil {
			return err
		}
		out = append(out, newMembership(s.Channel, m, s.Subject, s.Plugin, s.Audiences))
		return nil
	})
	return out, err
}

// saveJoin keeps a key package's private keys until its Welcome comes.
func (d *stateDir) saveJoin(pj *pendingJoin) error {
	if d == nil {
		return nil
	}
	bundle, err := pj.bundle.Marshal()
	if err != nil {
		return err
	}
	data, err := json.Marshal(savedJoin{Format: stateFormat, Channel: pj.channel, Bundle: bundle,
		IssuedAt: pj.cred.IssuedAt, ExpiresAt: pj.cred.ExpiresAt, Subject: pj.subject, Plugin: pj.plugin, Audiences: pj.audiences})
	if err != nil {
		return fmt.Errorf("memberclient: %v", err)
	}
	return writeFile(d.joinPath(pj.bundle.KeyPackage().Ref()), data)
}

func (d *stateDir) deleteJoin(ref mls.KeyPackageRef) error {
	if d == nil {
		return nil
	}
	if err := os.Remove(d.joinPath(ref)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("memberclient: %v", err)
	}
	return nil
}

func (d *stateDir) loadJoins() ([]*pendingJoin, error) {
	var out []*pendingJoin
	err := d.each(keyPackagesDir, func(path string, raw []byte) error {
		var s savedJoin
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		if s.Format != stateFormat {
			return fmt.Errorf("format %d, want %d", s.Format, stateFormat)
		}
		b, err := mls.RestoreKeyPackageBundle(s.Bundle)
		if err != nil {
			return err
		}
		cred := member.Credential{Signer: b.Signer(), Credential: b.KeyPackage().Credential(), IssuedAt: s.IssuedAt, ExpiresAt: s.ExpiresAt}
		out = append(out, &pendingJoin{channel: s.Channel, bundle: b, cred: cred, subject: s.Subject, plugin: s.Plugin, audiences: s.Audiences})
		return nil
	})
	return out, err
}

// each reads every saved file of a subdirectory.
func (d *stateDir) each(sub string, fn func(path string, raw []byte) error) error {
	dir := filepath.Join(d.path, sub)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("memberclient: %v", err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		raw, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("memberclient: %v", err)
		}
		if err := fn(path, raw); err != nil {
			return fmt.Errorf("memberclient: %s: %v", path, err)
		}
	}
	return nil
}

// refHex is a short form of a key package reference, for logs.
func refHex(ref mls.KeyPackageRef) string { return hex.EncodeToString(ref[:8]) }

// writeFile saves data to path atomically (a synced temporary file renamed
// over it), mode 0600, for secrets such as group state; the directory is
// synced too, so the rename survives a crash.
func writeFile(path string, data []byte) error {
	if err := renameio.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("memberclient: saving %s: %v", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
