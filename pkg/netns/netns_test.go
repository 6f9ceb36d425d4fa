package netns

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewPlan_AddressesArePrivateAndDistinct(t *testing.T) {
	p, err := NewPlan(MaxHosts, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{RootAddr.String(): true}
	names := map[string]bool{LANName: true}
	for i, h := range p.Hosts {
		if !Subnet.Contains(h.Addr) {
			t.Fatalf("host %d: %v outside %v", i, h.Addr, Subnet)
		}
		if h.Addr == Subnet.Addr() || h.Addr.As4()[3] == 255 {
			t.Fatalf("host %d: %v is the network or broadcast address", i, h.Addr)
		}
		if seen[h.Addr.String()] {
			t.Fatalf("host %d: address %v used twice", i, h.Addr)
		}
		seen[h.Addr.String()] = true
		if !strings.HasPrefix(h.NS, Prefix) || names[h.NS] {
			t.Fatalf("host %d: namespace %q not ours or used twice", i, h.NS)
		}
		names[h.NS] = true
	}
	if got := p.Hosts[3].Addr.String(); got != "10.77.0.5" {
		t.Fatalf("host 3 at %s, want 10.77.0.5 (hosts start at .2)", got)
	}
}

func TestNewPlan_BadSizes(t *testing.T) {
	for _, n := range []int{0, -1, MaxHosts + 1} {
		if _, err := NewPlan(n, 0); err == nil {
			t.Errorf("NewPlan(%d) succeeded", n)
		}
	}
	if _, err := NewPlan(2, -time.Millisecond); err == nil {
		t.Error("NewPlan with a negative delay succeeded")
	}
}

// TestPlan_SetupCommands_TouchOnlyOurs checks every command of a plan: a
// namespace is created before anything runs in it, every namespace and
// root-namespace link created has our prefix, and addresses come only from
// the subnet.
func TestPlan_SetupCommands_TouchOnlyOurs(t *testing.T) {
	p, err := NewPlan(4, 200*time.Microsecond)
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]bool{}
	var tcs int
	for _, argv := range p.SetupCommands() {
		line := strings.Join(argv, " ")
		if argv[0] != "ip" && argv[0] != "tc" {
			t.Fatalf("%q: runs neither ip nor tc", line)
		}
		if i := slices.Index(argv, "-n"); i >= 0 && !created[argv[i+1]] {
			t.Fatalf("%q: namespace %s used before it is created", line, argv[i+1])
		}
		if i := slices.Index(argv, "exec"); i >= 0 && !created[argv[i+1]] {
			t.Fatalf("%q: namespace %s used before it is created", line, argv[i+1])
		}
		if len(argv) > 3 && argv[1] == "netns" && argv[2] == "add" {
			if !strings.HasPrefix(argv[3], Prefix) {
				t.Fatalf("%q: namespace without our prefix", line)
			}
			created[argv[3]] = true
		}
		// A link added in the root namespace (no -n) must be ours by name.
		if argv[0] == "ip" && argv[1] == "link" && argv[2] == "add" && !strings.HasPrefix(argv[3], Prefix) {
			t.Fatalf("%q: root-namespace link without our prefix", line)
		}
		if i := slices.Index(argv, "addr"); i >= 0 && argv[i+1] == "add" {
			a := strings.Split(argv[i+2], "/")[0]
			if !strings.HasPrefix(a, "10.77.0.") {
				t.Fatalf("%q: address outside the subnet", line)
			}
		}
		if slices.Contains(argv, "netem") {
			tcs++
			if argv[len(argv)-1] != "200us" {
				t.Fatalf("%q: delay %s, want 200us", line, argv[len(argv)-1])
			}
		}
	}
	for _, h := range p.Hosts {
		if !created[h.NS] {
			t.Fatalf("namespace %s never created", h.NS)
		}
	}
	if tcs != len(p.Hosts)+1 {
		t.Fatalf("%d netem commands, want one per host and one for the root veth (%d)", tcs, len(p.Hosts)+1)
	}

	p.Delay = 0
	for _, argv := range p.SetupCommands() {
		if slices.Contains(argv, "tc") {
			t.Fatalf("%q: tc without a delay", strings.Join(argv, " "))
		}
	}
}

func TestOurs_PicksPrefixedNamespaces(t *testing.T) {
	list := []byte("gkv-h1 (id: 4)\nother\ngkv-lan (id: 0)\n\n  gkv-h0\nmygkv-x\n")
	got := Ours(list)
	want := []string{"gkv-h1", "gkv-lan", "gkv-h0"}
	if !slices.Equal(got, want) {
		t.Fatalf("Ours = %q, want %q", got, want)
	}
}

func TestTeardownCommands_DeletesEveryNamespace(t *testing.T) {
	cmds := TeardownCommands([]string{"gkv-h0", "gkv-lan"}, true)
	want := [][]string{
		{"ip", "netns", "del", "gkv-h0"},
		{"ip", "netns", "del", "gkv-lan"},
		{"ip", "link", "del", RootVeth},
	}
	if !slices.EqualFunc(cmds, want, slices.Equal) {
		t.Fatalf("TeardownCommands = %q, want %q", cmds, want)
	}
	if cmds := TeardownCommands(nil, false); len(cmds) != 0 {
		t.Fatalf("nothing to tear down gave %q", cmds)
	}
}

func TestSubnetInUse(t *testing.T) {
	cidr := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	if a, used := SubnetInUse([]net.Addr{cidr("127.0.0.1/8"), cidr("192.0.2.2/24"), cidr("::1/128")}); used {
		t.Fatalf("reported %v in use", a)
	}
	if a, used := SubnetInUse([]net.Addr{cidr("127.0.0.1/8"), cidr("10.77.0.9/16")}); !used || a.String() != "10.77.0.9" {
		t.Fatalf("SubnetInUse = %v, %t; want 10.77.0.9, true", a, used)
	}
}

func TestHost_Command_RunsInsideTheNamespace(t *testing.T) {
	p, err := NewPlan(2, 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := p.Hosts[1].Command("/bin/watchdog", "-id", "1")
	want := []string{"ip", "netns", "exec", "gkv-h1", "/bin/watchdog", "-id", "1"}
	if !slices.Equal(cmd.Args, want) {
		t.Fatalf("args %q, want %q", cmd.Args, want)
	}
}
