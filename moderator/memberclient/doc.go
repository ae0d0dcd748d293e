// Package memberclient is a SLIM group member that reaches its moderator
// over the network (the Moderator service of package service). It says
// Hello with its participant name, proves the memberships it holds, answers
// each JoinRequest with a key package whose credential is a token bound to
// a fresh signature key (fetched from the slimid broker, in process or over
// its socket), joins from the Welcome, applies commits in epoch order,
// acknowledges every delivery, sends and receives application messages, and
// renews its token before it expires with an Update proposal. It reconnects
// with backoff and, given a state directory, survives restarts.
//
//	c, err := memberclient.New(memberclient.Config{
//		Target: "unix:///run/slimid/moderator.sock",
//		Name:   "org/ns/alice",  // the name operators add to channels
//		Tokens: b,               // *broker.Broker or *brokerclient.Client
//		Plugin: "team",
//		StateDir: "/var/lib/slimid/alice",
//	})
//	go c.Run(ctx)
//	for ev := range c.Events() {
//		switch ev.Kind {
//		case memberclient.Joined:
//			c.Send(ctx, ev.Channel, []byte("hello"))
//		case memberclient.Message:
//			fmt.Printf("%s: %s\n", ev.Sender, ev.Data)
//		case memberclient.Refused:
//			log.Printf("%s refused: %s", ev.Of, ev.Reason) // e.g. a join whose token binds another key
//		}
//	}
//
// The state directory holds private keys (memberships and key packages
// waiting for their Welcome): mode 0700, files 0600. One process at a time
// may use it.
package memberclient
