package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// Attach runs the script read from stdin on the cluster of the master that
// is up on the config's data directory (Up), and prints its transcript as
// Run would: stdout gets what get and printStore print (and the echo),
// stderr the errors and the summary. It returns the script's exit code
// (ExitOK, ExitFailed), ExitStart when no master is up there or it
// refused the script, or ExitInterrupted when ctx ended first (the script
// then stops there). stdin is read only when the master that is up asks
// for more, so a terminal's prompt appears once the last line has run.
//
// Options that shape a run the master starts itself (Check, StatsFile,
// HistoryFile, HistoryHTMLFile, KeepData) are refused: the master that is up owns the
// cluster and its history.
func Attach(ctx context.Context, opts Options, stdin io.Reader) int {
	dir := opts.Config.DataDir
	c, err := dialControl(dir)
	if errors.Is(err, errNotUp) {
		if o, oerr := readOwner(dir); oerr == nil && o.Command == "up" && processAlive(o.Pid) {
			c, err = waitForControl(ctx, dir, o, startTimeoutOf(opts))
		}
	}
	if errors.Is(err, errNotUp) {
		fmt.Fprintf(opts.Stderr, "master: no master is up on data directory %s: `bin/master up -config FILE` starts one\n", dir)
		return ExitStart
	}
	if err != nil {
		fmt.Fprintf(opts.Stderr, "master: %v\n", err)
		return ExitStart
	}
	return attach(ctx, opts, c, stdin)
}

// attachable refuses the options that only a run of its own can honour.
func attachable(opts Options) error {
	var flags []string
	if opts.Check {
		flags = append(flags, "-check")
	}
	if opts.StatsFile != "" {
		flags = append(flags, "-stats")
	}
	if opts.HistoryFile != "" {
		flags = append(flags, "-history")
	}
	if opts.HistoryHTMLFile != "" {
		flags = append(flags, "-history-html")
	}
	if opts.KeepData {
		flags = append(flags, "-keep-data")
	}
	if len(flags) == 0 {
		return nil
	}
	return fmt.Errorf("%v shape a run that this master starts itself, and a master that is up owns this cluster: leave them out to run the script there, or stop that master first", flags)
}

func startTimeoutOf(opts Options) time.Duration {
	return orDefault(opts.Config.Timing.StartTimeout, defaultStartTimeout)
}

// waitForControl dials the control socket until it answers: the master
// that is up (owner) opens it a moment after it takes the lock. errNotUp
// once that master is gone, or after timeout.
func waitForControl(ctx context.Context, dir string, owner Owner, timeout time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(startPoll)
	defer tick.Stop()
	for {
		c, err := dialControl(dir)
		if !errors.Is(err, errNotUp) {
			return c, err
		}
		if !processAlive(owner.Pid) || time.Now().After(deadline) {
			return nil, errNotUp
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// frame is one frame read from the master that is up.
type frame struct {
	kind byte
	body []byte
	err  error
}

// chunk is one read of stdin.
type chunk struct {
	data []byte
	err  error
}

// attach runs the conversation with the master that is up on c.
func attach(ctx context.Context, opts Options, c net.Conn, stdin io.Reader) int {
	defer c.Close()
	errf := func(format string, args ...any) { fmt.Fprintf(opts.Stderr, "master: "+format+"\n", args...) }
	if err := attachable(opts); err != nil {
		errf("%v", err)
		return ExitStart
	}
	h := hello{Version: controlVersion, Cluster: opts.Config.Cluster, Pid: os.Getpid(), Echo: opts.Echo, Config: opts.ConfigPath, Quiet: opts.Quiet,
		Consistency: opts.Consistency}
	c.SetDeadline(time.Now().Add(controlHelloTimeout))
	var ans answer
	err := writeJSONFrame(c, frameHello, h)
	if err == nil {
		var kind byte
		var body []byte
		kind, body, err = readFrame(c)
		if err == nil && kind != frameAnswer {
			err = fmt.Errorf("frame %q instead of an answer", kind)
		}
		if err == nil {
			err = json.Unmarshal(body, &ans)
		}
	}
	if err != nil {
		errf("the master that is up on %s did not answer: %v", opts.Config.DataDir, err)
		return ExitStart
	}
	if ans.Error != "" {
		errf("the master that is up on %s (pid %d, run %s) refuses the script: %s", opts.Config.DataDir, ans.Pid, ans.Run, ans.Error)
		return ExitStart
	}
	c.SetDeadline(time.Time{})
	if !opts.Quiet {
		errf("running the script on the cluster that is up: master pid %d, run %s, config %s, consistency %s", ans.Pid, ans.Run, ans.Config, ans.Consistency)
	}

	stop := make(chan struct{})
	defer close(stop)
	frames := make(chan frame)
	go func() {
		for {
			kind, body, err := readFrame(c)
			select {
			case frames <- frame{kind, body, err}:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	// stdin is read once per request: a terminal's prompt shows only when
	// the master that is up is ready for the next line.
	want := make(chan struct{}, 1)
	chunks := make(chan chunk)
	go func() {
		buf := make([]byte, chunkSize)
		for {
			select {
			case <-want:
			case <-stop:
				return
			}
			n, err := stdin.Read(buf)
			select {
			case chunks <- chunk{append([]byte(nil), buf[:n]...), err}:
			case <-stop:
				return
			}
		}
	}()
	ended, readFailed := false, false
	for {
		select {
		case <-ctx.Done():
			errf("interrupted: %v", context.Cause(ctx))
			return ExitInterrupted
		case f := <-frames:
			if f.err != nil {
				errf("lost the master that is up (pid %d): %v", ans.Pid, f.err)
				return ExitFailed
			}
			switch f.kind {
			case frameStdout:
				opts.Stdout.Write(f.body)
			case frameStderr:
				opts.Stderr.Write(f.body)
			case frameReady:
				if !ended {
					select {
					case want <- struct{}{}:
					default:
					}
				}
			case frameExit:
				code := ExitFailed
				if len(f.body) == 1 {
					code = int(f.body[0])
				}
				if readFailed && code == ExitOK {
					code = ExitFailed
				}
				return code
			default:
				errf("the master that is up sent frame %q: is it of another version?", f.kind)
				return ExitFailed
			}
		case ch := <-chunks:
			if ch.err != nil && ch.err != io.EOF && ctx.Err() != nil {
				// The read was cut short by the interrupt itself (Ctrl-C
				// at a prompt).
				errf("interrupted: %v", context.Cause(ctx))
				return ExitInterrupted
			}
			var err error
			if len(ch.data) > 0 {
				err = writeFrame(c, frameData, ch.data)
			}
			switch {
			case err != nil:
			case ch.err == nil:
				// more when the master asks
			default:
				if ch.err != io.EOF {
					readFailed = true
					errf("reading the script: %v", ch.err)
				}
				ended = true
				err = writeFrame(c, frameEnd, nil)
			}
			if err != nil {
				errf("lost the master that is up (pid %d): %v", ans.Pid, err)
				return ExitFailed
			}
		}
	}
}
