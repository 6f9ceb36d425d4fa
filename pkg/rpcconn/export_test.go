package rpcconn

import "net/rpc"

var errShutdownForTest = rpc.ErrShutdown
