package memberclient

import (
	"context"
	"errors"
	"fmt"

	moderatorv1 "github.com/slimid/slimid/sdk/proto/moderator/v1"
)

// Send encrypts data for the channel's members and sends it through the
// moderator. The membership's state is saved before the message leaves, so
// a restart never reuses a message key.
func (c *Client) Send(ctx context.Context, channel string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ms := c.membership(channel)
	if ms == nil {
		return fmt.Errorf("memberclient: %s is not a member of channel %q", c.cfg.Name, channel)
	}
	ms.mu.Lock()
	out, err := ms.m.Send(data)
	if err == nil {
		err = c.store.saveMembership(ms)
	}
	ms.mu.Unlock()
	if err != nil {
		return err
	}
	return c.publish(channel, out)
}

// publish sends an MLS message to the channel through the moderator.
func (c *Client) publish(channel string, msg []byte) error {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s == nil {
		return ErrNotConnected
	}
	return s.send(&moderatorv1.MemberMessage{Body: &moderatorv1.MemberMessage_Publish{Publish: &moderatorv1.Publish{ChannelName: channel, Message: msg}}})
}

// publishOrQueue sends an Update proposal, or keeps it for the next stream.
func (c *Client) publishOrQueue(channel string, p []byte) error {
	err := c.publish(channel, p)
	if errors.Is(err, ErrNotConnected) {
		c.mu.Lock()
		c.queued[channel] = p
		c.mu.Unlock()
		return nil
	}
	return err
}
