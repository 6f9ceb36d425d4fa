package cpuprofile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFromEnv_WritesAProfile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GOSSIPKV_CPUPROFILE", dir)
	t.Setenv("GOSSIPKV_PROFILE_SECONDS", "5")
	stop, err := FromEnv("client-7")
	if err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // a second stop does nothing
	b, err := os.ReadFile(filepath.Join(dir, "client-7.cpu.prof"))
	if err != nil {
		t.Fatal(err)
	}
	// pprof writes a gzipped protocol buffer.
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("not a profile: %d bytes starting %x", len(b), b[:min(len(b), 4)])
	}
}

func TestFromEnv_Off(t *testing.T) {
	t.Setenv("GOSSIPKV_CPUPROFILE", "")
	stop, err := FromEnv("master")
	if err != nil {
		t.Fatal(err)
	}
	stop()
}

func TestFromEnv_BadSeconds(t *testing.T) {
	t.Setenv("GOSSIPKV_CPUPROFILE", t.TempDir())
	for _, s := range []string{"0", "-3", "ten"} {
		t.Setenv("GOSSIPKV_PROFILE_SECONDS", s)
		if _, err := FromEnv("master"); err == nil {
			t.Errorf("GOSSIPKV_PROFILE_SECONDS=%s accepted", s)
		}
	}
}
