// Command grpo is the command-line twin of the gomlxgrpo notebooks.
//
//	grpo logprobs  --model DIR --ids 5,17,42
//	grpo generate  --model DIR (--ids ... | --prompt TEXT) --max-new-tokens N [--greedy | --temperature T --top-p P --top-k K --min-p M --seed S]
//	grpo tokenize  --tokenizer PATH [--add-special] [--text S] [--jsonl]
//	grpo chat-template (--model DIR | --template FILE) --messages FILE [--add-generation-prompt]
//	grpo train     [--config FILE] [--max-steps N] [--metrics FILE] [--output DIR] [--resume DIR]
//
// GOMLXGRPO_XLA_LOG=1 logs every XLA compilation with its device memory use.
//
// The backend is chosen by gomlxgrpo/backend: $GOMLX_BACKEND, else a CUDA PJRT plugin if installed, else the CPU.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"k8s.io/klog/v2"
)

type command struct {
	run   func(args []string) error
	usage string
}

var commands = map[string]command{}

func register(name, usage string, run func(args []string) error) {
	commands[name] = command{run: run, usage: usage}
}

func main() {
	if v := os.Getenv("GOMLXGRPO_XLA_LOG"); v != "" {
		// go-xla logs each compilation with the executable's device memory (code, inputs, outputs,
		// temporaries) at klog verbosity 1: what explains a step's peak GPU memory.
		fs := flag.NewFlagSet("klog", flag.ContinueOnError)
		klog.InitFlags(fs)
		_ = fs.Set("v", v)
	}
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "grpo: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := cmd.run(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "grpo %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: grpo <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-14s %s\n", n, commands[n].usage)
	}
}

// parseIDs parses "5,17,42".
func parseIDs(s string) ([]int, error) {
	var ids []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("--ids: %q is not an integer", f)
		}
		ids = append(ids, v)
	}
	return ids, nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(v)
}
