package backend

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSetXLACacheFlags: the cache flag is added only when the plugin's binary names it (an unknown
// flag in XLA_FLAGS aborts XLA), flags already in XLA_FLAGS are kept and not repeated, and
// GOMLXGRPO_XLA_CACHE=0 turns the cache off.
func TestSetXLACacheFlags(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "plugin.so")
	// A name straddling the reader's 4 MiB pieces must still be found.
	body := make([]byte, 4<<20-10)
	body = append(body, []byte("\x00xla_gpu_per_fusion_autotune_cache_dir\x00other")...)
	if err := os.WriteFile(plugin, body, 0o644); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	t.Setenv("XLA_FLAGS", "--xla_dump_to=/tmp/d")
	added, err := setXLACacheFlags(plugin, cache)
	if err != nil {
		t.Fatal(err)
	}
	want := "--xla_gpu_per_fusion_autotune_cache_dir=" + filepath.Join(cache, "autotune")
	if len(added) != 1 || added[0] != want {
		t.Fatalf("added %q, want %q", added, want)
	}
	if got := os.Getenv("XLA_FLAGS"); got != "--xla_dump_to=/tmp/d "+want {
		t.Fatalf("XLA_FLAGS = %q", got)
	}
	if err := os.WriteFile(plugin, []byte("no flags here"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XLA_FLAGS", "")
	if added, err = setXLACacheFlags(plugin, cache); err != nil || len(added) != 0 || os.Getenv("XLA_FLAGS") != "" {
		t.Fatalf("a plugin without the flag: added %q (%v), XLA_FLAGS %q", added, err, os.Getenv("XLA_FLAGS"))
	}
	t.Setenv("XLA_FLAGS", "--xla_dump_to=/tmp/d "+want)
	if added, err = setXLACacheFlags(plugin, cache); err != nil || len(added) != 0 {
		t.Fatalf("second call added %q (%v): the flag is already set", added, err)
	}
	if n := strings.Count(os.Getenv("XLA_FLAGS"), "autotune_cache_dir"); n != 1 {
		t.Fatalf("flag set %d times", n)
	}
	t.Setenv("XLA_FLAGS", "")
	if _, err := setXLACacheFlags(filepath.Join(dir, "missing.so"), filepath.Join(dir, "c2")); err == nil {
		t.Fatal("a missing plugin: want an error")
	}
	if added, err := setXLACacheFlags("", filepath.Join(dir, "c3")); err != nil || len(added) != 0 || os.Getenv("XLA_FLAGS") != "" {
		t.Fatalf("no plugin file: added %q (%v), XLA_FLAGS %q", added, err, os.Getenv("XLA_FLAGS"))
	}
	t.Setenv("GOMLXGRPO_XLA_CACHE", "0")
	if d := XLACacheDir(); d != "" {
		t.Fatalf("GOMLXGRPO_XLA_CACHE=0: dir %q, want none", d)
	}
	t.Setenv("GOMLXGRPO_XLA_CACHE", cache)
	if d := XLACacheDir(); d != cache {
		t.Fatalf("GOMLXGRPO_XLA_CACHE=%s: dir %q", cache, d)
	}
}

// BenchmarkFileContains: the start-up scan of the PJRT plugin for the cache flag's name, worst case
// (a 512 MiB file without it, read to the end from the page cache), in MB/s of file.
func BenchmarkFileContains(b *testing.B) {
	path := filepath.Join(b.TempDir(), "plugin.so")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	const mib = 512
	for range mib {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(mib << 20)
	b.ResetTimer()
	for range b.N {
		found, err := fileContains(path, []string{"--xla_gpu_per_fusion_autotune_cache_dir"})
		if err != nil || len(found) != 0 {
			b.Fatalf("found %v, err %v", found, err)
		}
	}
}
