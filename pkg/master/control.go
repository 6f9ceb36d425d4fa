package master

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// A master that is up (Up) takes scripts from other masters on a unix
// socket in its data directory, DATA_DIR/master.sock: the data directory's
// lock makes it the only master there, and the file's mode (0600) keeps
// other users out. The conversation is a stream of frames, each a kind
// byte, a 4-byte big-endian length and that many bytes:
//
//	attacher                         master that is up
//	H hello (JSON)              ->
//	                            <-   A answer (JSON): accepted, or why not
//	                            <-   E "waiting for ..." (while it is busy)
//	                            <-   R ready for more of the script
//	D script bytes              ->
//	                            <-   O stdout bytes, E stderr bytes ...
//	                            <-   R ...
//	Z end of the script         ->
//	                            <-   X exit code (1 byte), the last frame
//
// The master asks for input (R) only when it has run everything it was
// sent, so an attacher at a terminal shows its prompt when the previous
// line has finished. An attacher that goes away without Z interrupts its
// script.
const (
	controlName = "master.sock"
	// controlVersion changes when the conversation does: masters of
	// another version are refused with a message, not misread.
	controlVersion = 1

	frameHello  byte = 'H'
	frameAnswer byte = 'A'
	frameData   byte = 'D'
	frameEnd    byte = 'Z'
	frameReady  byte = 'R'
	frameStdout byte = 'O'
	frameStderr byte = 'E'
	frameExit   byte = 'X'

	// maxFrame bounds what a reader accepts (a larger one is garbage);
	// writers split their data into frames of at most chunkSize.
	maxFrame  = 1 << 20
	chunkSize = 64 << 10

	// controlHelloTimeout bounds the handshake on both sides.
	controlHelloTimeout = 5 * time.Second
	// attachWriteTimeout bounds one frame to an attacher: one that stops
	// reading (a terminal paused with Ctrl-S) loses its script rather
	// than holding the cluster from every other script.
	attachWriteTimeout = time.Minute
)

// ControlPath is the socket on which a master that is up on dataDir takes
// scripts.
func ControlPath(dataDir string) string { return filepath.Join(dataDir, controlName) }

// hello is what an attacher says first.
type hello struct {
	Version int    `json:"version"`
	Cluster string `json:"cluster"`
	Pid     int    `json:"pid"`
	Echo    bool   `json:"echo"`
	Config  string `json:"config,omitempty"`
	// Quiet: send back only errors on stderr (Options.Quiet).
	Quiet bool `json:"quiet,omitempty"`
	// Consistency is the mode the attacher asked for (-consistency);
	// empty: whichever the cluster that is up runs.
	Consistency string `json:"consistency,omitempty"`
}

// answer is the up master's reply to a hello: Error is empty when it takes
// the script.
type answer struct {
	Error   string `json:"error,omitempty"`
	Version int    `json:"version"`
	Cluster string `json:"cluster"`
	Run     string `json:"run"`
	Pid     int    `json:"pid"`
	Config  string `json:"config,omitempty"`
	// Consistency is the mode the cluster that is up runs.
	Consistency string `json:"consistency,omitempty"`
}

// errNotUp means no master that is up answers on the control socket.
var errNotUp = errors.New("no master is up there")

// writeFrame writes a frame in one write: a second, empty one for an empty
// body would fail on a connection the other end has just closed, after
// the frame has gone through.
func writeFrame(w io.Writer, kind byte, body []byte) error {
	b := make([]byte, 5+len(body))
	b[0] = kind
	binary.BigEndian.PutUint32(b[1:5], uint32(len(body)))
	copy(b[5:], body)
	_, err := w.Write(b)
	return err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var head [5]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(head[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("a frame of %d bytes (at most %d)", n, maxFrame)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return head[0], body, nil
}

func writeJSONFrame(w io.Writer, kind byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFrame(w, kind, b)
}

// frameWriter sends frames on a connection for several writers (stdout,
// stderr, ready), one whole frame at a time.
type frameWriter struct {
	// mu guards the connection's write side.
	mu sync.Mutex
	c  net.Conn
}

func (fw *frameWriter) send(kind byte, body []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.c.SetWriteDeadline(time.Now().Add(attachWriteTimeout))
	return writeFrame(fw.c, kind, body)
}

// stream is an io.Writer whose bytes go out as frames of one kind.
type stream struct {
	fw   *frameWriter
	kind byte
}

func (s stream) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), chunkSize)
		if err := s.fw.send(s.kind, p[:k]); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

// dialControl connects to the master that is up on dataDir, if any:
// errNotUp when nothing listens there.
func dialControl(dataDir string) (net.Conn, error) {
	c, err := net.DialTimeout("unix", ControlPath(dataDir), controlHelloTimeout)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, errNotUp
		}
		return nil, fmt.Errorf("master: control socket %s: %w", ControlPath(dataDir), err)
	}
	return c, nil
}
