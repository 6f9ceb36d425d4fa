package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"gossipkv/pkg/api"
	"gossipkv/pkg/model"
)

// statusDoc is the answer to GET /v1/status.
type statusDoc struct {
	ID      uint32 `json:"id"`
	Cluster string `json:"cluster"`
	Run     string `json:"run,omitempty"`
	// Peers are the other servers the cluster config lists; Links those
	// this server has a live direct link to.
	Peers []uint32 `json:"peers"`
	Links []uint32 `json:"links"`
	// Topology is this server's view of every server's announced links:
	// what it routes by.
	Topology   map[uint32][]uint32 `json:"topology"`
	HeldWrites heldDoc             `json:"held_writes"`
	// Keys counts the keys with a value, Tombstones the deleted ones
	// this server still holds.
	Keys       int    `json:"keys"`
	Tombstones int    `json:"tombstones"`
	Lag        lagDoc `json:"lag"`
	// UptimeSeconds is how long the front has been up.
	UptimeSeconds float64 `json:"uptime_seconds"`
}

// heldDoc is the set of writes the server holds: how many, and the set
// itself as a version vector with exceptions (replica:count per replica
// id, then the writes held beyond a gap).
type heldDoc struct {
	Count uint64 `json:"count"`
	Set   string `json:"set"`
}

// lagDoc is how far this server stands from the servers it has had acks
// from, as far as those acks tell (they may be out of date by what has
// moved since): Behind counts the writes any of them held that this server
// lacks.
type lagDoc struct {
	Behind uint64       `json:"behind"`
	Peers  []peerLagDoc `json:"peers"`
}

type peerLagDoc struct {
	ID uint32 `json:"id"`
	// Linked: a direct link to it is up now; otherwise its figures are
	// from before the link went down.
	Linked bool `json:"linked"`
	// Missing counts the writes it held that this server lacks; Unacked
	// the writes this server holds that it has not acknowledged.
	Missing uint64 `json:"missing"`
	Unacked uint64 `json:"unacked"`
}

// statusAndLag is what /v1/status and /metrics show of the store; on a
// failure it answers 500 and ok is false.
func (s *Server) statusAndLag(w http.ResponseWriter) (st api.StatusReply, lag api.LagReply, ok bool) {
	st, err := s.store.Status()
	if err != nil {
		plain(w, http.StatusInternalServerError, fmt.Sprintf("server %d: status: %v", s.cfg.ID, err))
		return st, lag, false
	}
	lag, err = s.store.Lag()
	if err != nil {
		plain(w, http.StatusInternalServerError, fmt.Sprintf("server %d: lag: %v", s.cfg.ID, err))
		return st, lag, false
	}
	return st, lag, true
}

func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request) {
	st, lag, ok := s.statusAndLag(w)
	if !ok {
		return
	}
	doc := statusDoc{
		ID: s.cfg.ID, Cluster: s.cfg.Cluster, Run: s.cfg.Run,
		Peers:      slices.DeleteFunc(slices.Clone(s.cfg.Servers), func(id uint32) bool { return id == s.cfg.ID }),
		Links:      st.Links,
		Topology:   st.Topology,
		HeldWrites: heldDoc{Count: st.Seen.Count(), Set: st.Seen.String()},
		Keys:       st.Live, Tombstones: st.Keys - st.Live,
		Lag:           lagDoc{Behind: lag.Behind, Peers: peerLags(lag.Peers)},
		UptimeSeconds: time.Since(s.started).Round(time.Millisecond).Seconds(),
	}
	if doc.Peers == nil {
		doc.Peers = []uint32{}
	}
	if doc.Links == nil {
		doc.Links = []uint32{}
	}
	writeJSON(w, doc)
}

func peerLags(ps []model.PeerLag) []peerLagDoc {
	out := make([]peerLagDoc, len(ps))
	for i, p := range ps {
		out[i] = peerLagDoc{ID: p.Peer, Linked: p.Linked, Missing: p.Missing, Unacked: p.Unacked}
	}
	return out
}
