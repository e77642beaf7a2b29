#!/usr/bin/env bash
# One command to run the notebooks on a fresh Debian or Ubuntu machine with Go 1.26:
# Jupyter from the OS packages, the gonb Go kernel (v0.11.5) and goimports, kernel registered with
# PATH in kernel.json (gonb needs go and goimports on the kernel's PATH).
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  jupyter-nbconvert python3-nbclient jupyter-client jupyter-core jupyter-notebook >/dev/null || \
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  jupyter-nbconvert python3-nbclient jupyter-client jupyter-core >/dev/null
# `go install gonb@v0.11.5` asks the proxy for gonb's version list, which it refuses: resolve it in a module.
tools=$(mktemp -d)
(cd "$tools" && go mod init tools >/dev/null 2>&1 && go get github.com/janpfeifer/gonb@v0.11.5 >/dev/null 2>&1 \
  && go install github.com/janpfeifer/gonb && go install golang.org/x/tools/cmd/goimports@v0.52.0 \
  && go install golang.org/x/tools/gopls@v0.23.0)
GOBIN=$(go env GOPATH)/bin
export PATH="$GOBIN:$PATH"
gonb --install >/dev/null 2>&1
kj=$(jupyter kernelspec list 2>/dev/null | awk '/gonb/{print $2}')/kernel.json
python3 - "$kj" "$GOBIN" "$(dirname "$(command -v go)")" <<'PY'
import json, sys
p, gobin, goroot = sys.argv[1:]
k = json.load(open(p))
k["env"] = dict(k.get("env") or {}, PATH=f"{gobin}:{goroot}:/usr/local/bin:/usr/bin:/bin")
json.dump(k, open(p, "w"), indent=2)
PY
echo "gonb kernel ready: $kj"
echo "start with: jupyter notebook notebooks/   (or headless: jupyter nbconvert --to notebook --execute notebooks/01_quickstart_tiny_cpu.ipynb)"
