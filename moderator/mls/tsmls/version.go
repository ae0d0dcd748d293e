package tsmls

import "context"

// Version names the ts-mls package and the Node.js runtime behind a peer.
type Version struct {
	TSMLS string `json:"ts_mls"`
	Node  string `json:"node"`
}

// Version asks the peer what it runs.
func (p *Peer) Version(ctx context.Context) (Version, error) {
	var v Version
	err := p.call(ctx, callTimeout, "version", nil, &v)
	return v, err
}
