package tiny

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// files is the shipped model: config.json, model.safetensors (float32), tokenizer files.
//
//go:embed model/*
var files embed.FS

// Dir returns a folder holding the shipped tiny model, extracting it from the binary on first use
// into the user cache ($XDG_CACHE_HOME/gomlxgrpo/tiny-<hash>), so it works from any directory.
func Dir() (string, error) {
	h := sha256.New()
	entries, err := fs.ReadDir(files, "model")
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		b, _ := files.ReadFile("model/" + e.Name())
		h.Write([]byte(e.Name()))
		h.Write(b)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "gomlxgrpo", "tiny-"+hex.EncodeToString(h.Sum(nil))[:12])
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		return dir, nil
	}
	tmp := dir + fmt.Sprintf(".tmp%d", os.Getpid())
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", err
	}
	for _, e := range entries {
		b, _ := files.ReadFile("model/" + e.Name())
		if err := os.WriteFile(filepath.Join(tmp, e.Name()), b, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		if _, err2 := os.Stat(filepath.Join(dir, "model.safetensors")); err2 == nil {
			return dir, nil // another process won the race
		}
		return "", err
	}
	return dir, nil
}
