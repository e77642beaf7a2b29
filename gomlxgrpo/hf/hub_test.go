package hf

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveDownloadsIntoHubCache serves a model folder from a loopback hub and checks that Resolve
// downloads it into the hub-cache layout, then finds it there offline.
func TestResolveDownloadsIntoHubCache(t *testing.T) {
	src := "../model/testdata/models/qwen2_mha_untied_f16_sharded"
	entries, _ := os.ReadDir(src)
	const sha = "0123456789abcdef0123456789abcdef01234567"
	mux := http.NewServeMux()
	mux.HandleFunc("/api/models/acme/tiny/revision/main", func(w http.ResponseWriter, r *http.Request) {
		var sib []map[string]string
		for _, e := range entries {
			sib = append(sib, map[string]string{"rfilename": e.Name()})
		}
		sib = append(sib, map[string]string{"rfilename": "README.md"})
		json.NewEncoder(w).Encode(map[string]any{"sha": sha, "siblings": sib})
	})
	mux.HandleFunc("/acme/tiny/resolve/"+sha+"/", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(src, filepath.Base(r.URL.Path)))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cache := t.TempDir()
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_ENDPOINT", srv.URL)
	t.Setenv("HF_HUB_OFFLINE", "")
	dir, err := Resolve("acme/tiny")
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(cache, "models--acme--tiny", "snapshots", sha)
	if dir != want {
		t.Fatalf("resolved to %s, want %s", dir, want)
	}
	if _, err := OpenCheckpoint(dir); err != nil {
		t.Fatalf("downloaded checkpoint does not open: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err == nil {
		t.Error("downloaded a file the model does not need")
	}
	srv.Close()
	t.Setenv("HF_HUB_OFFLINE", "1")
	if again, err := Resolve("acme/tiny"); err != nil || again != want {
		t.Fatalf("offline resolve from cache: %v %s", err, again)
	}
	if _, err := Resolve("acme/absent"); err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Fatalf("missing model offline: %v", err)
	}
}
