"""Writes the tutorial notebooks in notebooks/ (gonb Go kernel). Run: python3 scripts/make_notebooks.py

Each notebook follows one lesson; the logic lives in the gomlxgrpo package. The big-model notebooks
name their Hugging Face model in one place; with GOMLXGRPO_NOTEBOOK_MODEL=tiny (what CI sets) they
run on the shipped tiny model instead.
"""
import json, os

ROOT = os.path.join(os.path.dirname(__file__), "..", "notebooks")

SETUP = r'''!*go get github.com/janpfeifer/gonb@v0.11.5 github.com/go-echarts/go-echarts/v2@v2.6.7 github.com/gomlx/gomlx@v0.28.6 github.com/gomlx/compute@v0.1.5 github.com/gomlx/go-xla@v0.4.4 >/dev/null 2>&1
!*go mod edit -require=github.com/gomlxgrpo/gomlxgrpo@v0.0.0 -replace=github.com/gomlxgrpo/gomlxgrpo=${GONB_DIR}/..; echo "module pinned"'''

IMPORTS = '''import (
    "fmt"

    "github.com/janpfeifer/gonb/gonbui"
    "github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo"
    "github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
    "github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
)

var _ = fmt.Sprint
var _ = grpo.Defaults
var _ = reward.Score'''


def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text.strip("\n")}


def code(text):
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": text.strip("\n")}


def notebook(cells):
    return {"cells": cells, "metadata": {"kernelspec": {"display_name": "Go (gonb)", "language": "go", "name": "gonb"},
                                          "language_info": {"name": "go"}}, "nbformat": 4, "nbformat_minor": 5}


def session_fn(model, output, config_lines, extra=""):
    return f'''// session opens (or resumes) the run whose state lives in {output}: every %% cell is its own
// program under gonb, so the state on disk is what carries the training from cell to cell.
func session() *gomlxgrpo.Session {{
    cfg := grpo.UnslothPreset()
{config_lines}
    s, err := gomlxgrpo.Open(gomlxgrpo.SessionOptions{{
        Model:  "{model}", // GOMLXGRPO_NOTEBOOK_MODEL=tiny runs this notebook on the shipped tiny model
        Load4Bit: true,    // NF4 base weights, as Unsloth's load_in_4bit = True
        Output: "{output}",
        Config: &cfg,{extra}
    }})
    if err != nil {{
        panic(err)
    }}
    return s
}}'''


def model_notebook(title, model, intro, config_lines, lora_line, notes, lora_opts):
    out = "grpo-" + model.split("/")[-1].lower()
    return notebook([
        md(f"# {title}\n\n{intro}\n\nThis notebook mirrors Unsloth's GRPO notebook for the same model, cell by cell, in Go: "
           "4-bit-ready loading with LoRA adapters, GSM8K with the `<reasoning>`/`<answer>` system prompt, the five reward "
           "functions, the notebook's hyperparameters, training with live charts, inference before and after, and saving.\n\n"
           "**Run it on the tiny model**: set `GOMLXGRPO_NOTEBOOK_MODEL=tiny` before starting Jupyter; every cell then runs on "
           "the shipped 0.5M-parameter model in a few minutes on a CPU (this is what CI does)."),
        md("## Setup\nPin the module versions (gonb would otherwise ask the proxy for `@latest`) and use this repository as the `gomlxgrpo` module."),
        code(SETUP),
        code(IMPORTS),
        md("## The model and the adapters\n\n" + lora_line + "\n\nOnly the adapters train; the base weights stay frozen, "
           "and the same model with adapters disabled serves as GRPO's reference policy for the KL term."),
        code(session_fn(model, out, config_lines, lora_opts)),
        code('''%%
s := session()
defer s.Close()
gonbui.DisplayMarkdown(fmt.Sprintf("**%s** — %s, %d layers, vocabulary %d; LoRA on %d projections, %d trainable parameters; %d training prompts",
    s.Model.Config.Architecture, s.Model.DType, s.Model.Config.NumLayers, s.Model.Config.VocabSize,
    len(s.Adapters.List), s.Adapters.NumParameters(), len(s.Data)))
gonbui.Sync()'''),
        md("## The data and the rewards\n\nEach GSM8K question becomes a chat: Unsloth's system prompt asks for\n\n```\n<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>\n```\n\n"
           "Five rewards score each completion (maximum 4.0): `xmlcount` (0.125 per well-placed tag), `soft_format` and "
           "`strict_format` (0.5 each; note that `strict_format` uses `re.match` without DOTALL, so multi-line reasoning fails it, as in Unsloth's notebook), "
           "`int` (0.5 when the answer is an integer) and `correctness` (2.0 for the exact answer). Here they score two hand-written completions:"),
        code('''%%
samples := []reward.Sample{
    {Completion: "<reasoning>\\n48/2 = 24, 48 + 24 = 72\\n</reasoning>\\n<answer>\\n72\\n</answer>\\n", Answer: "72"},
    {Completion: "The answer is 72.", Answer: "72"},
}
if _, err := gomlxgrpo.ScoreTable(reward.UnslothXML(), samples); err != nil {
    panic(err)
}'''),
        md("## Before training\nOne sampled answer to a training question:"),
        code('''%%
s := session()
defer s.Close()
q := s.Data[0].Fields["question"]
out, err := s.Complete(q, false)
if err != nil {
    panic(err)
}
gomlxgrpo.ShowCompletion("before GRPO", q, out)'''),
        md("## Train\n\nGRPO samples a group of completions per prompt, scores them, and pushes the policy towards the completions "
           "that beat their group's mean reward (the advantage), with the clipped ratio of PPO and, when `beta > 0`, a KL penalty "
           "to the reference model. The charts update after every step. " + notes +
           "\n\nOn a GPU the first step also compiles XLA's executables (1 to 2 minutes on an H100); XLA's autotuning "
           "results are kept in your cache directory (`gomlxgrpo/xla`), so after a kernel restart that step is 15–20% "
           "shorter (`GOMLXGRPO_XLA_CACHE=0` turns this off)."),
        code('''%%
s := session()
defer s.Close()
if err := s.TrainLive(10); err != nil {
    panic(err)
}'''),
        md("Run the cell again to train further: the state (adapters, optimizer, data position) is reloaded from disk."),
        md("## After training"),
        code('''%%
s := session()
defer s.Close()
q := s.Data[0].Fields["question"]
out, err := s.Complete(q, false)
if err != nil {
    panic(err)
}
gomlxgrpo.ShowCompletion("after GRPO", q, out)
if err := s.ShowCharts(); err != nil {
    panic(err)
}'''),
        md("## Save\nThe adapter in PEFT's format (loads with `PeftModel.from_pretrained`), and a merged 16-bit checkpoint."),
        code(f'''%%
s := session()
defer s.Close()
if err := s.SaveAdapter("{out}/lora_model"); err != nil {{
    panic(err)
}}
if err := s.SaveMerged("{out}/merged_16bit"); err != nil {{
    panic(err)
}}
gonbui.DisplayMarkdown("saved `{out}/lora_model` (PEFT) and `{out}/merged_16bit` (Hugging Face, bfloat16)")
gonbui.Sync()'''),
    ])


def quickstart():
    return notebook([
        md("# GRPO quickstart: a tiny model learns arithmetic on your CPU\n\n"
           "This notebook trains the tiny reasoning model that ships with gomlxgrpo (0.5M parameters, pretrained on "
           "generated word problems in the `<reasoning>`/`<answer>` format, with deliberate mistakes). GRPO samples 8 "
           "answers per problem, rewards the correct ones, and the share of correct answers rises within minutes. "
           "No GPU and no download is needed."),
        code(SETUP),
        code(IMPORTS),
        md("## 1. Open a session\nThe model, LoRA adapters (r=16 on the 7 projections), 5,000 generated problems, Unsloth's five rewards. "
           "The state of the run lives in `grpo-quickstart/`, so later cells continue where earlier ones stopped."),
        code('''func session() *gomlxgrpo.Session {
    cfg := grpo.UnslothPreset()
    cfg.PromptsPerStep, cfg.NumGenerations = 2, 8
    cfg.MaxPromptLength, cfg.MaxCompletionLength = 128, 40
    cfg.LearningRate, cfg.WarmupRatio, cfg.MaxSteps, cfg.Beta = 3e-3, 0.05, 60, 0
    s, err := gomlxgrpo.Open(gomlxgrpo.SessionOptions{Model: "tiny", Output: "grpo-quickstart", Config: &cfg})
    if err != nil {
        panic(err)
    }
    return s
}'''),
        code('''%%
s := session()
defer s.Close()
q := s.Data[0].Fields["question"]
for i := 0; i < 3; i++ {
    out, _ := s.Complete(q, false)
    gomlxgrpo.ShowCompletion(fmt.Sprintf("sample %d, answer %s", i+1, s.Data[0].Answer), q, out)
}'''),
        md("## 2. Train, watching the charts\n`reward` is the sum of the five rewards (maximum 4.0); `rewards/correctness_reward_func/mean` is 2.0 × the share of correct answers."),
        code('''%%
s := session()
defer s.Close()
if err := s.TrainLive(12); err != nil {
    panic(err)
}'''),
        md("## 3. Look again\nThe charts of all steps so far, and the reasoning-length / self-check view."),
        code('''%%
s := session()
defer s.Close()
if err := s.ShowCharts(); err != nil {
    panic(err)
}
q := s.Data[0].Fields["question"]
out, _ := s.Complete(q, false)
gomlxgrpo.ShowCompletion("after training, answer "+s.Data[0].Answer, q, out)'''),
    ])


def prototyping():
    return notebook([
        md("# Prototyping rewards\n\nWrite a reward in Go, score hand-written or sampled completions, compare rewards side by side — "
           "no training. A reward gets the samples (prompt, completion, dataset fields) and returns one score each; "
           "`NaN` means *not applicable* and is excluded, as TRL does with `None`."),
        code(SETUP),
        code(IMPORTS.replace('import (\n    "fmt"\n', 'import (\n    "fmt"\n    "math"\n    "strings"\n') + '''

var _ = math.NaN
var _ = strings.Contains'''),
        md("## A reward of your own\nSay a legal-drafting task wants answers that cite a section (`§`) and stay short:"),
        code('''func citesSection(samples []reward.Sample) []float64 {
    out := make([]float64, len(samples))
    for i, s := range samples {
        if strings.Contains(s.Completion, "§") {
            out[i] = 1
        }
        if len(s.Completion) > 200 {
            out[i] -= 0.5
        }
    }
    return out
}'''),
        code('''%%
samples := []reward.Sample{
    {Completion: "<reasoning>\\nSee § 12(3).\\n</reasoning>\\n<answer>\\n§ 12\\n</answer>\\n", Answer: "§ 12"},
    {Completion: "<reasoning>\\nNo citation here.\\n</reasoning>\\n<answer>\\n12\\n</answer>\\n", Answer: "§ 12"},
    {Completion: "I think it is 12", Answer: "§ 12"},
}
rewards := append(reward.UnslothXML(), reward.Reward{Name: "cites_section", Fn: citesSection})
if _, err := gomlxgrpo.ScoreTable(rewards, samples); err != nil {
    panic(err)
}'''),
        md("## Score sampled completions\nSample from the tiny model and compare Unsloth's two reward families side by side."),
        code('''%%
s, err := gomlxgrpo.Open(gomlxgrpo.SessionOptions{Model: "tiny", Output: "grpo-prototyping"})
if err != nil {
    panic(err)
}
defer s.Close()
var samples []reward.Sample
for _, ex := range s.Data[:8] {
    out, err := s.Complete(ex.Fields["question"], false)
    if err != nil {
        panic(err)
    }
    samples = append(samples, reward.Sample{Completion: out, Answer: ex.Answer})
}
if _, err := gomlxgrpo.ScoreTable(reward.UnslothXML(), samples); err != nil {
    panic(err)
}
both := append(reward.UnslothXML(), reward.Gemma3Table().Rewards()...)
if _, err := gomlxgrpo.CompareRewards(both, samples); err != nil {
    panic(err)
}'''),
        md("## A reward that panics\nA bug in a reward becomes an error naming the function and the sample; during training, no state is lost."),
        code('''%%
buggy := reward.Reward{Name: "buggy", Fn: reward.PerSample(func(s reward.Sample) float64 {
    return float64(len(strings.Fields(s.Completion)[5]))
})}
_, err := gomlxgrpo.ScoreTable([]reward.Reward{buggy}, []reward.Sample{{Completion: "too short"}})
gonbui.DisplayMarkdown(fmt.Sprintf("error: `%v`", strings.SplitN(err.Error(), "\\n", 2)[0]))
gonbui.Sync()'''),
    ])


def main():
    os.makedirs(ROOT, exist_ok=True)
    books = {
        "01_quickstart_tiny_cpu.ipynb": quickstart(),
        "02_qwen2.5_grpo.ipynb": model_notebook(
            "Qwen2.5 GRPO: teach a chat model to reason on GSM8K", "Qwen/Qwen2.5-3B-Instruct",
            "Unsloth's `Qwen2.5_(3B)-GRPO` notebook: Qwen2.5-3B-Instruct, LoRA r = α = 64 on all 7 projections, 8 generations per prompt, 250 steps.",
            "    cfg.NumGenerations, cfg.MaxPromptLength, cfg.MaxCompletionLength, cfg.MaxSteps = 8, 256, 200, 250",
            "Unsloth loads Qwen2.5-3B-Instruct in 4-bit and adds LoRA r = α = 64 to q, k, v, o, gate, up and down.",
            "Unsloth's values: lr 5e-6, AdamW (0.9, 0.99), weight decay 0.001, cosine with 10% warmup, max_grad_norm 0.1.",
            "\n        LoRARank: 64,"),
        "03_llama3.1_8b_grpo.ipynb": model_notebook(
            "Llama 3.1 (8B) GRPO", "meta-llama/Llama-3.1-8B-Instruct",
            "Unsloth's `Llama3.1_(8B)-GRPO` notebook: Llama-3.1-8B-Instruct, LoRA r = α = 32, 6 generations per prompt, completions up to 768 tokens.",
            "    cfg.NumGenerations, cfg.MaxPromptLength, cfg.MaxCompletionLength, cfg.MaxSteps = 6, 256, 768, 250",
            "Unsloth loads Llama-3.1-8B-Instruct in 4-bit and adds LoRA r = α = 32 to the 7 projections.",
            "Unsloth's values: lr 5e-6, AdamW (0.9, 0.99), weight decay 0.001, cosine with 10% warmup, max_grad_norm 0.1.",
            "\n        LoRARank: 32,"),
        "04_phi4_grpo.ipynb": model_notebook(
            "Phi-4 (14B) GRPO", "microsoft/phi-4",
            "Unsloth's `Phi_4_(14B)-GRPO` notebook: Phi-4 (the Phi3 architecture: fused qkv_proj and gate_up_proj), LoRA r = α = 16 on the MLP only, 6 generations, 100 steps.",
            "    cfg.NumGenerations, cfg.MaxPromptLength, cfg.MaxCompletionLength, cfg.MaxSteps = 6, 256, 200, 100",
            "Unsloth loads Phi-4 in 4-bit and adds LoRA r = α = 16 to gate, up and down only (PEFT maps gate and up onto Phi-3's fused gate_up_proj).",
            "Unsloth's values: lr 5e-6, AdamW (0.9, 0.99), weight decay 0.001, cosine with 10% warmup, max_grad_norm 0.1.",
            "\n        LoRARank: 16,\n        LoRATargets: []string{\"gate_proj\", \"up_proj\", \"down_proj\"},"),
        "05_reward_prototyping.ipynb": prototyping(),
    }
    for name, nb in books.items():
        with open(os.path.join(ROOT, name), "w") as f:
            json.dump(nb, f, indent=1)
            f.write("\n")
        print("wrote notebooks/" + name)


main()
