package rpcconn

import (
	"net/rpc"
	"time"
)

var errShutdownForTest = rpc.ErrShutdown

// listenWithHelloTimeout is Listen with a shorter wait for the hello, so a
// test can see a silent dialer dropped.
func listenWithHelloTimeout(self Identity, addr, name string, rcvr any, d time.Duration) (*Server, error) {
	return listen(self, addr, name, rcvr, d)
}
