package member

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/slimid/slimid/moderator/mls"
)

// Dir keeps a member's secrets in a directory (mode 0700): key package
// bundles waiting for a Welcome in keypackages/<ref>.json and memberships in
// groups/<escaped group ID>.json, each file mode 0600 and written
// atomically. One process at a time may use a Dir.
type Dir struct {
	path string
}

const (
	keyPackagesDir = "keypackages"
	groupsDir      = "groups"
)

// OpenDir opens, or creates, a member state directory.
func OpenDir(path string) (*Dir, error) {
	for _, sub := range []string{keyPackagesDir, groupsDir} {
		if err := os.MkdirAll(filepath.Join(path, sub), 0o700); err != nil {
			return nil, fmt.Errorf("member: state directory: %v", err)
		}
	}
	return &Dir{path: path}, nil
}

type savedBundle struct {
	Bundle    []byte    `json:"bundle"`
	IssuedAt  time.Time `json:"issued_at,omitzero"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// SaveKeyPackage keeps a key package bundle (its private keys included)
// until a Welcome for it arrives.
func (d *Dir) SaveKeyPackage(b *mls.KeyPackageBundle, cred Credential) error {
	raw, err := b.Marshal()
	if err != nil {
		return fmt.Errorf("member: %w", err)
	}
	data, err := json.Marshal(savedBundle{Bundle: raw, IssuedAt: cred.IssuedAt, ExpiresAt: cred.ExpiresAt})
	if err != nil {
		return fmt.Errorf("member: %v", err)
	}
	return writeFile(d.bundlePath(b.KeyPackage().Ref()), data)
}

func (d *Dir) bundlePath(ref mls.KeyPackageRef) string {
	return filepath.Join(d.path, keyPackagesDir, ref.String()+".json")
}

func (d *Dir) groupPath(groupID []byte) string {
	return filepath.Join(d.path, groupsDir, url.PathEscape(string(groupID))+".json")
}

// Join joins the group a Welcome invites one of the saved key packages to,
// saves the membership and forgets the key package.
func (d *Dir) Join(welcome []byte) (*Member, error) {
	h, err := mls.ParseHeader(welcome)
	if err != nil {
		return nil, fmt.Errorf("member: %w", err)
	}
	if h.WireFormat != mls.WireWelcome {
		return nil, fmt.Errorf("member: %w: a %s is not a Welcome", mls.ErrWelcome, h.WireFormat)
	}
	for _, ref := range h.Recipients {
		raw, err := os.ReadFile(d.bundlePath(ref))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("member: %v", err)
		}
		var sb savedBundle
		if err := json.Unmarshal(raw, &sb); err != nil {
			return nil, fmt.Errorf("member: %s: %v", d.bundlePath(ref), err)
		}
		b, err := mls.RestoreKeyPackageBundle(sb.Bundle)
		if err != nil {
			return nil, fmt.Errorf("member: %s: %w", d.bundlePath(ref), err)
		}
		cred := Credential{Signer: b.Signer(), Credential: b.KeyPackage().Credential(), IssuedAt: sb.IssuedAt, ExpiresAt: sb.ExpiresAt}
		m, err := Join(welcome, b, cred)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(d.groupPath(m.GroupID())); err == nil {
			return nil, fmt.Errorf("member: already a member of group %q in %s", m.GroupID(), d.path)
		}
		if err := d.Save(m); err != nil {
			return nil, err
		}
		if err := os.Remove(d.bundlePath(ref)); err != nil {
			return nil, fmt.Errorf("member: forgetting the used key package: %v", err)
		}
		return m, nil
	}
	return nil, fmt.Errorf("member: %w: addressed to none of the key packages in %s", mls.ErrWelcome, filepath.Join(d.path, keyPackagesDir))
}

// Save writes a membership.
func (d *Dir) Save(m *Member) error {
	state, err := m.State()
	if err != nil {
		return err
	}
	return writeFile(d.groupPath(m.GroupID()), state)
}

// Load reads the membership in a group.
func (d *Dir) Load(groupID string) (*Member, error) {
	raw, err := os.ReadFile(d.groupPath([]byte(groupID)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("member: not a member of group %q in %s", groupID, d.path)
	}
	if err != nil {
		return nil, fmt.Errorf("member: %v", err)
	}
	return Restore(raw)
}

// Groups lists the groups this directory holds memberships in.
func (d *Dir) Groups() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(d.path, groupsDir))
	if err != nil {
		return nil, fmt.Errorf("member: %v", err)
	}
	var out []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(name, ".") {
			continue
		}
		if id, err := url.PathUnescape(name); err == nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}
