package netns

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Prefix starts the name of every namespace and root-namespace link this
// package creates; Teardown and Stale recognise ours by it.
const Prefix = "gkv-"

// Names and addresses of the layout (see the package doc).
const (
	LANName    = Prefix + "lan"
	BridgeName = Prefix + "br0"
	RootVeth   = Prefix + "m0"
	// lanPeer is the bridge-side end of RootVeth, inside LANName.
	lanPeer = "m0"
	// hostDev is each host's interface inside its namespace.
	hostDev = "eth0"
)

// Subnet is the private subnet of the hosts; nothing outside the namespaces
// of a Plan uses it.
var Subnet = netip.MustParsePrefix("10.77.0.0/24")

// RootAddr is the root namespace's address on the bridge (the master's).
var RootAddr = netip.MustParseAddr("10.77.0.1")

// MaxHosts is how many hosts fit the subnet after the network, root and
// broadcast addresses.
const MaxHosts = 253

// ErrNeedRoot and ErrNeedTool say why a machine cannot run a Plan.
var (
	// ErrNeedRoot: creating namespaces and links needs root.
	ErrNeedRoot = errors.New("netns: needs root")
	// ErrNeedTool: iproute2's ip (or tc, for a delay) is not installed.
	ErrNeedTool = errors.New("netns: needs iproute2")
)

// Host is one namespace.
type Host struct {
	NS   string     // namespace name: gkv-h<i>
	Addr netip.Addr // address of its eth0
	// Veth is the bridge-side end of its link, inside LANName.
	Veth string
}

// Plan is a whole layout: what Setup creates and Teardown removes.
type Plan struct {
	Hosts []Host
	// Delay is the netem delay added on every host's egress and the
	// root's (zero: none); a round trip between two hosts costs 2*Delay.
	Delay time.Duration
}

// NewPlan lays out n hosts.
func NewPlan(n int, delay time.Duration) (Plan, error) {
	if n < 1 || n > MaxHosts {
		return Plan{}, fmt.Errorf("netns: %d hosts: need 1 to %d", n, MaxHosts)
	}
	if delay < 0 {
		return Plan{}, fmt.Errorf("netns: negative delay %v", delay)
	}
	p := Plan{Delay: delay}
	base := Subnet.Addr().As4()
	for i := range n {
		a := base
		a[3] = byte(i + 2)
		p.Hosts = append(p.Hosts, Host{
			NS:   Prefix + "h" + strconv.Itoa(i),
			Addr: netip.AddrFrom4(a),
			Veth: "v" + strconv.Itoa(i),
		})
	}
	return p, nil
}

// SetupCommands are the commands Setup runs, in order.
func (p Plan) SetupCommands() [][]string {
	bits := strconv.Itoa(Subnet.Bits())
	cmds := [][]string{
		{"ip", "netns", "add", LANName},
		{"ip", "-n", LANName, "link", "add", BridgeName, "type", "bridge"},
		{"ip", "-n", LANName, "link", "set", BridgeName, "up"},
		{"ip", "link", "add", RootVeth, "type", "veth", "peer", "name", lanPeer, "netns", LANName},
		{"ip", "-n", LANName, "link", "set", lanPeer, "master", BridgeName},
		{"ip", "-n", LANName, "link", "set", lanPeer, "up"},
		{"ip", "addr", "add", RootAddr.String() + "/" + bits, "dev", RootVeth},
		{"ip", "link", "set", RootVeth, "up"},
	}
	if p.Delay > 0 {
		cmds = append(cmds, []string{"tc", "qdisc", "add", "dev", RootVeth, "root", "netem", "delay", p.delayArg()})
	}
	for _, h := range p.Hosts {
		cmds = append(cmds,
			[]string{"ip", "netns", "add", h.NS},
			[]string{"ip", "-n", LANName, "link", "add", h.Veth, "type", "veth", "peer", "name", hostDev, "netns", h.NS},
			[]string{"ip", "-n", LANName, "link", "set", h.Veth, "master", BridgeName},
			[]string{"ip", "-n", LANName, "link", "set", h.Veth, "up"},
			[]string{"ip", "-n", h.NS, "addr", "add", h.Addr.String() + "/" + bits, "dev", hostDev},
			[]string{"ip", "-n", h.NS, "link", "set", hostDev, "up"},
			[]string{"ip", "-n", h.NS, "link", "set", "lo", "up"},
		)
		if p.Delay > 0 {
			cmds = append(cmds, []string{"ip", "netns", "exec", h.NS, "tc", "qdisc", "add", "dev", hostDev, "root", "netem", "delay", p.delayArg()})
		}
	}
	return cmds
}

// delayArg is Delay as tc reads it, in microseconds.
func (p Plan) delayArg() string {
	return strconv.FormatInt(p.Delay.Microseconds(), 10) + "us"
}

// TeardownCommands remove the given namespaces (ours by name) and the
// root veth. Deleting gkv-lan removes the veth ends inside it, and with
// them their peers, so the root veth goes too; its own delete is for a
// setup that failed before the link reached gkv-lan.
func TeardownCommands(namespaces []string, rootVeth bool) [][]string {
	var cmds [][]string
	for _, ns := range namespaces {
		cmds = append(cmds, []string{"ip", "netns", "del", ns})
	}
	if rootVeth {
		cmds = append(cmds, []string{"ip", "link", "del", RootVeth})
	}
	return cmds
}

// Ours picks our namespaces out of `ip netns list` output (one per line,
// "NAME" or "NAME (id: N)").
func Ours(list []byte) []string {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(list))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && strings.HasPrefix(f[0], Prefix) {
			names = append(names, f[0])
		}
	}
	return names
}

// SubnetInUse returns an address of addrs (this namespace's interface
// addresses) inside Subnet, or false: a run must not take a subnet that
// something else on the machine already uses.
func SubnetInUse(addrs []net.Addr) (netip.Addr, bool) {
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if ok && Subnet.Contains(ip.Unmap()) {
			return ip.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// Check says in plain words why this machine cannot run the plan: not
// root, no ip, no tc for a delay.
func (p Plan) Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: network namespaces and veth links can only be created by root (run it as root, e.g. sudo make multiple)", ErrNeedRoot)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("%w: the ip command is missing (Debian/Ubuntu: apt-get install iproute2)", ErrNeedTool)
	}
	if _, err := exec.LookPath("tc"); err != nil && p.Delay > 0 {
		return fmt.Errorf("%w: a delay needs the tc command, which is missing (apt-get install iproute2), or run without a delay", ErrNeedTool)
	}
	return nil
}

// run runs one command and returns its error with its stderr.
func run(ctx context.Context, argv []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("netns: %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Setup removes what a crashed run left (Teardown), checks the subnet is
// free, then creates the plan. On failure it removes what it created.
func Setup(ctx context.Context, p Plan) error {
	if err := p.Check(); err != nil {
		return err
	}
	if err := Teardown(ctx); err != nil {
		return fmt.Errorf("netns: removing a previous run's namespaces: %w", err)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return fmt.Errorf("netns: listing addresses: %w", err)
	}
	if a, used := SubnetInUse(addrs); used {
		return fmt.Errorf("netns: subnet %v is already in use on this machine (%v); not touching it", Subnet, a)
	}
	for _, argv := range p.SetupCommands() {
		if _, err := run(ctx, argv); err != nil {
			if slices.Contains(argv, "netem") {
				err = fmt.Errorf("%w (this kernel may lack the netem qdisc, module sch_netem: run without a delay)", err)
			}
			// A cancelled ctx must not stop the cleanup.
			return errors.Join(err, Teardown(context.WithoutCancel(ctx)))
		}
	}
	return nil
}

// Teardown SIGKILLs every process still in one of our namespaces, by pid,
// and deletes the namespaces and the root veth. It is safe to call when
// nothing is set up.
func Teardown(ctx context.Context) error {
	list, err := run(ctx, []string{"ip", "netns", "list"})
	if err != nil {
		return err
	}
	ours := Ours(list)
	var errs []error
	for _, ns := range ours {
		errs = append(errs, killIn(ctx, ns))
	}
	_, vethErr := net.InterfaceByName(RootVeth)
	for _, argv := range TeardownCommands(ours, vethErr == nil) {
		_, err := run(ctx, argv)
		if err != nil && argv[1] == "link" {
			// Gone with gkv-lan in the meantime.
			if _, lookErr := net.InterfaceByName(RootVeth); lookErr != nil {
				err = nil
			}
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killIn SIGKILLs the processes inside namespace ns and waits (briefly) for
// them to go, so that deleting the namespace frees it.
func killIn(ctx context.Context, ns string) error {
	pids := func() []int {
		out, err := run(ctx, []string{"ip", "netns", "pids", ns})
		if err != nil {
			return nil
		}
		var ps []int
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				ps = append(ps, pid)
			}
		}
		return ps
	}
	left := pids()
	for _, pid := range left {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(left) > 0 {
		if time.Now().After(deadline) {
			return fmt.Errorf("netns: processes %v in %s survive SIGKILL", left, ns)
		}
		time.Sleep(10 * time.Millisecond)
		left = pids()
	}
	return nil
}

// Command runs name with args inside host's namespace.
func (h Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}
