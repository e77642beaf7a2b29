package hf

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// hubID matches "org/name" hub ids (not paths that exist on disk).
var hubID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)

// CacheDir is the Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
func CacheDir() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "hub")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "huggingface", "hub")
}

// Endpoint is the hub's address: $HF_ENDPOINT or https://huggingface.co.
func Endpoint() string {
	if e := os.Getenv("HF_ENDPOINT"); e != "" {
		return strings.TrimRight(e, "/")
	}
	return "https://huggingface.co"
}

// Resolve turns a model reference into a local folder. A folder that exists is returned as is. A hub
// id ("Qwen/Qwen2.5-1.5B-Instruct", optionally "@revision") is looked up in the hub cache
// (models--Qwen--Qwen2.5-1.5B-Instruct/snapshots/<commit>, via refs/<revision>) and, when absent and
// HF_HUB_OFFLINE is not set, downloaded into that layout.
func Resolve(ref string) (string, error) {
	if st, err := os.Stat(ref); err == nil && st.IsDir() {
		return ref, nil
	}
	id, rev, _ := strings.Cut(ref, "@")
	if rev == "" {
		rev = "main"
	}
	if !hubID.MatchString(id) {
		return "", fmt.Errorf("model %q is neither a folder nor a hub id like Qwen/Qwen2.5-0.5B-Instruct", ref)
	}
	repoDir := filepath.Join(CacheDir(), "models--"+strings.ReplaceAll(id, "/", "--"))
	if dir, ok := cachedSnapshot(repoDir, rev); ok {
		return dir, nil
	}
	if os.Getenv("HF_HUB_OFFLINE") == "1" {
		return "", fmt.Errorf("model %s is not in the hub cache %s and HF_HUB_OFFLINE=1: download it (huggingface-cli download %s) or pass a folder", id, CacheDir(), id)
	}
	dir, err := download(id, rev, repoDir)
	if err != nil {
		return "", fmt.Errorf("model %s is not in the hub cache %s and downloading it failed: %w\n  download it with huggingface-cli download %s, or pass a local folder", id, CacheDir(), err, id)
	}
	return dir, nil
}

func cachedSnapshot(repoDir, rev string) (string, bool) {
	commit := rev
	if b, err := os.ReadFile(filepath.Join(repoDir, "refs", rev)); err == nil {
		commit = strings.TrimSpace(string(b))
	}
	dir := filepath.Join(repoDir, "snapshots", commit)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		return dir, true
	}
	return "", false
}

// modelFiles are what gomlxgrpo reads from a repository.
func wanted(name string) bool {
	switch name {
	case "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
		"special_tokens_map.json", "model.safetensors.index.json", "chat_template.jinja":
		return true
	}
	return strings.HasSuffix(name, ".safetensors")
}

// download fetches the files we need into the hub-cache layout: blobs are written under
// snapshots/<commit>/ directly (no symlinks), and refs/<rev> records the commit.
func download(id, rev, repoDir string) (string, error) {
	client := &http.Client{Timeout: 0}
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/models/%s/revision/%s", Endpoint(), id, rev), nil)
	authorize(req)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("hub answered %s for %s (gated models need HF_TOKEN)", resp.Status, req.URL)
	}
	var info struct {
		SHA      string `json:"sha"`
		Siblings []struct {
			RFilename string `json:"rfilename"`
		} `json:"siblings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return "", fmt.Errorf("hub model info: %w", err)
	}
	if info.SHA == "" {
		return "", fmt.Errorf("hub model info for %s has no commit sha", id)
	}
	dir := filepath.Join(repoDir, "snapshots", info.SHA)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, s := range info.Siblings {
		if !wanted(s.RFilename) || strings.Contains(s.RFilename, "/") {
			continue
		}
		if err := fetchFile(client, fmt.Sprintf("%s/%s/resolve/%s/%s", Endpoint(), id, info.SHA, s.RFilename), filepath.Join(dir, s.RFilename)); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Join(repoDir, "refs"), 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(repoDir, "refs", rev), []byte(info.SHA), 0o644); err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		return "", fmt.Errorf("%s has no config.json", id)
	}
	return dir, nil
}

func authorize(req *http.Request) {
	if tok := os.Getenv("HF_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
}

// fetchFile downloads url into path atomically (a .part file renamed when complete).
func fetchFile(client *http.Client, url, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	req, _ := http.NewRequest("GET", url, nil)
	authorize(req)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	part := path + ".part"
	f, err := os.Create(part)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("downloading %s: %w", url, err)
	}
	if resp.ContentLength > 0 && n != resp.ContentLength {
		return fmt.Errorf("downloading %s: got %d of %d bytes", url, n, resp.ContentLength)
	}
	fmt.Fprintf(os.Stderr, "downloaded %s (%d MB, %s)\n", filepath.Base(path), n>>20, time.Since(start).Round(time.Second))
	return os.Rename(part, path)
}
