package front_test

import (
	"gossipkv/pkg/front"
	"gossipkv/pkg/server"
)

var _ front.Store = (*server.Server)(nil)
