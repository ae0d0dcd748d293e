package tsmls

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// callTimeout bounds one request; ts-mls answers most in milliseconds.
const callTimeout = time.Minute

// Peer is a running ts-mls process. Its methods are safe for concurrent use;
// the process answers requests one at a time in the order they arrive.
type Peer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailWriter

	writeMu sync.Mutex

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan reply

	done    chan struct{} // closed once the process has exited
	exitErr error         // why it exited; set before done is closed
}

// Error is an answer in which the peer refused a request: bad input, or an
// MLS object that ts-mls rejected.
type Error struct {
	Command string
	Message string
}

func (e *Error) Error() string { return "ts-mls peer " + e.Command + ": " + e.Message }

type request struct {
	ID     uint64 `json:"id"`
	Cmd    string `json:"cmd"`
	Params any    `json:"params,omitempty"`
}

type reply struct {
	ID     *uint64         `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *string         `json:"error"`
}

func start(dir string) (*Peer, error) {
	cmd := exec.Command("node", "peer.mjs")
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &Peer{
		cmd:     cmd,
		stdin:   stdin,
		stderr:  &tailWriter{limit: 8 << 10},
		pending: make(map[uint64]chan reply),
		done:    make(chan struct{}),
	}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go p.read(stdout)
	return p, nil
}

// read hands each answer to its caller until the process ends.
func (p *Peer) read(stdout io.Reader) {
	r := bufio.NewReader(stdout)
	var protocolErr error
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 && protocolErr == nil {
			protocolErr = p.deliver(line)
			if protocolErr != nil {
				_ = p.cmd.Process.Kill()
			}
		}
		if err != nil {
			break
		}
	}
	waitErr := p.cmd.Wait()
	switch {
	case protocolErr != nil:
		p.exitErr = fmt.Errorf("ts-mls peer broke the protocol: %w", protocolErr)
	case p.stderr.String() == "":
		p.exitErr = fmt.Errorf("ts-mls peer exited (%v)", waitErr)
	default:
		p.exitErr = fmt.Errorf("ts-mls peer exited (%v); stderr: %s", waitErr, p.stderr.String())
	}
	close(p.done)
}

func (p *Peer) deliver(line []byte) error {
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return fmt.Errorf("answer is not JSON: %v: %.200q", err, line)
	}
	if r.ID == nil {
		return fmt.Errorf("answer without an id: %.200q", line)
	}
	p.mu.Lock()
	ch, ok := p.pending[*r.ID]
	delete(p.pending, *r.ID)
	p.mu.Unlock()
	if ok {
		ch <- r // buffered: the caller may have given up
	}
	return nil
}

// stop kills the process and waits for it to be reaped.
func (p *Peer) stop() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// call sends one request and decodes its result into out (which may be nil).
func (p *Peer) call(ctx context.Context, timeout time.Duration, cmd string, params, out any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ts-mls peer %s: not sent: %w", cmd, err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ch := make(chan reply, 1)
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.pending[id] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
	}()

	line, err := json.Marshal(request{ID: id, Cmd: cmd, Params: params})
	if err != nil {
		return fmt.Errorf("encode ts-mls peer request %s: %w", cmd, err)
	}
	written := make(chan error, 1)
	go func() {
		p.writeMu.Lock()
		defer p.writeMu.Unlock()
		_, err := p.stdin.Write(append(line, '\n'))
		written <- err
	}()

	for {
		select {
		case err := <-written:
			if err != nil {
				return p.exited(cmd, err)
			}
			written = nil // sent: from now on wait for the answer only
		case r := <-ch:
			return decodeReply(cmd, r, out)
		case <-p.done:
			select {
			case r := <-ch: // answered just before exiting
				return decodeReply(cmd, r, out)
			default:
				return p.exited(cmd, nil)
			}
		case <-ctx.Done():
			return fmt.Errorf("ts-mls peer %s: no answer: %w", cmd, ctx.Err())
		}
	}
}

func decodeReply(cmd string, r reply, out any) error {
	if r.Error != nil {
		return &Error{Command: cmd, Message: *r.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("decode ts-mls peer answer to %s: %w", cmd, err)
	}
	return nil
}

// exited explains a request that the process can no longer answer.
func (p *Peer) exited(cmd string, writeErr error) error {
	select {
	case <-p.done:
		return fmt.Errorf("ts-mls peer %s: %w", cmd, p.exitErr)
	case <-time.After(time.Second):
		return fmt.Errorf("ts-mls peer %s: write the request: %v", cmd, writeErr)
	}
}

// tailWriter keeps the last bytes a process wrote to stderr.
type tailWriter struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

func (w *tailWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	if over := len(w.buf) - w.limit; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(b), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.buf))
}
