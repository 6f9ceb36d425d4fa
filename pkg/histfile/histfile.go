package histfile

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"gossipkv/pkg/check"
	"gossipkv/pkg/model"
)

// Record is one line of the file.
type Record struct {
	Line   int    `json:"line"`
	Op     string `json:"op"`
	Call   int64  `json:"call_ns"`
	Return int64  `json:"return_ns"`

	Client  *uint32 `json:"client,omitempty"`
	Server  *uint32 `json:"server,omitempty"`
	Peer    *uint32 `json:"peer,omitempty"`
	Key     *Bytes  `json:"key,omitempty"`
	Input   *Input  `json:"input,omitempty"`
	Output  *Output `json:"output,omitempty"`
	Unknown bool    `json:"unknown,omitempty"`

	Fresh bool `json:"fresh,omitempty"`
	// Skew is a skew event's shift of the server's clock, in signed
	// nanoseconds (0: set right).
	Skew      *int64            `json:"skew_ns,omitempty"`
	Converged *bool             `json:"converged,omitempty"`
	Err       string            `json:"err,omitempty"`
	Stores    map[string][]Item `json:"stores,omitempty"`
	// Stables holds, by server, the stable point of each store dumped at
	// a stabilize that has one (see Output.Stable).
	Stables map[string]*Version `json:"stables,omitempty"`
}

// Input is what a client operation sent.
type Input struct {
	Value  *Bytes   `json:"value,omitempty"`
	Expect *Bytes   `json:"expect,omitempty"`
	Dep    *Version `json:"dep,omitempty"`
}

// Output is what a client operation got back.
type Output struct {
	Status  string   `json:"status"`
	Value   *Bytes   `json:"value,omitempty"`
	Version *Version `json:"version,omitempty"`
	// Stable: a get answered ERR_KEY with no version by a server whose
	// stable point this is: every write of the key up to it is in the
	// server's past, the newest (if any) a delete whose tombstone it
	// collected.
	Stable *Version `json:"stable,omitempty"`
}

// Item is one key of a dumped store.
type Item struct {
	Key     Bytes    `json:"key"`
	Value   Bytes    `json:"value"`
	Version *Version `json:"version,omitempty"`
	Deleted bool     `json:"deleted,omitempty"`
}

// Version is a model.Version with the format's field names.
type Version struct {
	Wall    int64  `json:"wall"`
	Logical uint32 `json:"logical,omitempty"`
	Origin  uint32 `json:"origin"`
}

// Bytes is a key or value: a JSON string when valid UTF-8, else
// {"base64": "..."}, so that any byte string survives the round trip.
type Bytes []byte

// MarshalJSON implements json.Marshaler.
func (b Bytes) MarshalJSON() ([]byte, error) {
	if utf8.Valid(b) {
		return json.Marshal(string(b))
	}
	return json.Marshal(struct {
		Base64 string `json:"base64"`
	}{base64.StdEncoding.EncodeToString(b)})
}

// UnmarshalJSON implements json.Unmarshaler.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*b = Bytes(s)
		return nil
	}
	var o struct {
		Base64 *string `json:"base64"`
	}
	if err := json.Unmarshal(data, &o); err != nil || o.Base64 == nil {
		return fmt.Errorf("histfile: bytes must be a string or {\"base64\": ...}, not %s", data)
	}
	raw, err := base64.StdEncoding.DecodeString(*o.Base64)
	if err != nil {
		return fmt.Errorf("histfile: %w", err)
	}
	*b = raw
	return nil
}

// WriteFile writes h to path (see the package doc for the format).
func WriteFile(path string, h check.History) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	err = Write(w, h)
	return errors.Join(err, w.Flush(), f.Close())
}

// Write writes h to w, one record a line.
func Write(w io.Writer, h check.History) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, e := range h {
		if err := enc.Encode(recordOf(e)); err != nil {
			return err
		}
	}
	return nil
}

// recordOf is the record of one event.
func recordOf(e check.Event) Record {
	r := Record{Line: e.Line, Op: e.Op.String(), Call: int64(e.Call), Return: int64(e.Return), Server: ptr(e.Server)}
	switch e.Op {
	case check.Put, check.Get, check.Delete, check.CAS:
		r.Client = ptr(e.Client)
		r.Key = ptr(Bytes(e.Key))
		r.Input = &Input{Dep: versionOf(e.Dep)}
		r.Output = &Output{Status: e.Status.String(), Version: versionOf(e.Version), Stable: versionOf(e.Stable)}
		switch {
		case e.Op == check.Put:
			r.Input.Value = ptr(Bytes(e.Value))
		case e.Op == check.CAS:
			r.Input.Value, r.Input.Expect = ptr(Bytes(e.Value)), ptr(Bytes(e.Old))
		case e.Op == check.Get && e.Status == check.OK:
			r.Output.Value = ptr(Bytes(e.Value))
		}
		r.Unknown = e.OutcomeUnknown()
	case check.Start:
		r.Fresh = e.Fresh
	case check.Cut, check.Heal:
		r.Peer = ptr(e.Peer)
	case check.Skew:
		r.Skew = ptr(int64(e.Skew))
	case check.Stabilize:
		r.Server = nil
		r.Converged = ptr(e.Converged)
		r.Err = e.Err
		r.Stores = map[string][]Item{}
		for id, items := range e.Stores {
			out := make([]Item, len(items))
			for i, it := range items {
				out[i] = Item{Key: it.Key, Value: it.Value, Version: versionOf(it.Version), Deleted: it.Deleted}
			}
			r.Stores[strconv.FormatUint(uint64(id), 10)] = out
		}
		for id, v := range e.Stables {
			if r.Stables == nil {
				r.Stables = map[string]*Version{}
			}
			r.Stables[strconv.FormatUint(uint64(id), 10)] = versionOf(v)
		}
	}
	return r
}

func ptr[T any](v T) *T { return &v }

func versionOf(v model.Version) *Version {
	if v.IsZero() {
		return nil
	}
	return &Version{Wall: v.Wall, Logical: v.Logical, Origin: v.Origin}
}

func (v *Version) model() model.Version {
	if v == nil {
		return model.Version{}
	}
	return model.Version{Wall: v.Wall, Logical: v.Logical, Origin: v.Origin}
}

// ReadFile reads a history written by WriteFile.
func ReadFile(path string) (check.History, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Read reads records one a line (blank lines are skipped) and gives them
// back as a check.History. Empty keys and values read back as nil, as the
// checker makes no difference between them.
func Read(r io.Reader) (check.History, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<30)
	var h check.History
	n := 0
	for sc.Scan() {
		n++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("histfile: line %d: %w", n, err)
		}
		e, err := rec.Event()
		if err != nil {
			return nil, fmt.Errorf("histfile: line %d: %w", n, err)
		}
		h = append(h, e)
	}
	return h, sc.Err()
}

// ops maps the format's names to the checker's.
var ops = map[string]check.Op{}

// statuses maps the format's status names to the checker's.
var statuses = map[string]check.Status{}

func init() {
	for o := check.Start; o <= check.CAS; o++ {
		ops[o.String()] = o
	}
	for s := check.OK; s <= check.Unavailable; s++ {
		statuses[s.String()] = s
	}
}

// Event is the record as a check.Event.
func (r Record) Event() (check.Event, error) {
	op, ok := ops[r.Op]
	if !ok {
		return check.Event{}, fmt.Errorf("op %q is not one this checker records", r.Op)
	}
	e := check.Event{Op: op, Line: r.Line, Call: time.Duration(r.Call), Return: time.Duration(r.Return),
		Fresh: r.Fresh, Err: r.Err}
	e.Server = deref(r.Server)
	e.Peer = deref(r.Peer)
	e.Client = deref(r.Client)
	e.Key = bytesOf(r.Key)
	if r.Converged != nil {
		e.Converged = *r.Converged
	}
	if r.Skew != nil {
		e.Skew = time.Duration(*r.Skew)
	}
	if in := r.Input; in != nil {
		e.Dep = in.Dep.model()
		if op == check.Put || op == check.CAS {
			e.Value = bytesOf(in.Value)
		}
		if op == check.CAS {
			e.Old = bytesOf(in.Expect)
		}
	}
	if out := r.Output; out != nil {
		st, ok := statuses[out.Status]
		if !ok {
			return check.Event{}, fmt.Errorf("unknown status %q", out.Status)
		}
		e.Status = st
		e.Version = out.Version.model()
		e.Stable = out.Stable.model()
		if op == check.Get {
			e.Value = bytesOf(out.Value)
		}
	}
	if r.Stores != nil {
		e.Stores = make(map[uint32][]check.Item, len(r.Stores))
		for id, items := range r.Stores {
			n, err := strconv.ParseUint(id, 10, 32)
			if err != nil {
				return check.Event{}, fmt.Errorf("stores: server id %q: %w", id, err)
			}
			out := make([]check.Item, len(items))
			for i, it := range items {
				out[i] = check.Item{Key: bytesOf(&it.Key), Value: bytesOf(&it.Value), Version: it.Version.model(), Deleted: it.Deleted}
			}
			e.Stores[uint32(n)] = out
		}
	}
	for id, v := range r.Stables {
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			return check.Event{}, fmt.Errorf("stables: server id %q: %w", id, err)
		}
		if e.Stables == nil {
			e.Stables = map[uint32]model.Version{}
		}
		e.Stables[uint32(n)] = v.model()
	}
	return e, nil
}

func deref(p *uint32) uint32 {
	if p == nil {
		return 0
	}
	return *p
}

func bytesOf(b *Bytes) []byte {
	if b == nil || len(*b) == 0 {
		return nil
	}
	return slices.Clone([]byte(*b))
}
