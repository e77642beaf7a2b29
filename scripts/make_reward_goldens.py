"""Reference scores for the built-in rewards, computed with Python's re exactly as Unsloth's notebooks
define the functions (nb/Llama3.1_(8B)-GRPO, nb/Qwen3_(4B)-GRPO, nb/Gemma3_(1B)-GRPO; see
../shared/docs/grpo-reference.md §2). Runs with any Python 3 (standard library only):

    python3 scripts/make_reward_goldens.py > gomlxgrpo/reward/testdata/rewards.golden.json
"""
import json, random, re

# --- GSM8K / XML notebooks -------------------------------------------------------------------
def extract_xml_answer(text):
    answer = text.split("<answer>")[-1]
    answer = answer.split("</answer>")[0]
    return answer.strip()

def correctness(c, a): return 2.0 if extract_xml_answer(c) == a else 0.0
def int_reward(c, a): return 0.5 if extract_xml_answer(c).isdigit() else 0.0
def strict_format(c, a):
    return 0.5 if re.match(r"^<reasoning>\n.*?\n</reasoning>\n<answer>\n.*?\n</answer>\n$", c) else 0.0
def soft_format(c, a):
    return 0.5 if re.match(r"<reasoning>.*?</reasoning>\s*<answer>.*?</answer>", c) else 0.0
def count_xml(text):
    count = 0.0
    if text.count("<reasoning>\n") == 1:
        count += 0.125
    if text.count("\n</reasoning>\n") == 1:
        count += 0.125
    if text.count("\n<answer>\n") == 1:
        count += 0.125
        count -= len(text.split("\n</answer>\n")[-1]) * 0.001
    if text.count("\n</answer>") == 1:
        count += 0.125
        count -= (len(text.split("\n</answer>")[-1]) - 1) * 0.001
    return count
def xmlcount(c, a): return count_xml(c)

# --- Qwen3 / Gemma3 notebooks ------------------------------------------------------------------
rs, re_, ss, se = "<start_working_out>", "<end_working_out>", "<SOLUTION>", "</SOLUTION>"
EOS = "<|endoftext|>"
qwen3_format = re.compile(rf"{re_}.*?{ss}(.+?)" + r"</SOLUTION>[\s]{0,}" + "(?:" + re.escape(EOS) + ")?" + r"[\s]{0,}$",
                          flags=re.MULTILINE | re.DOTALL)
qwen3_numbers = re.compile(ss + r".*?[\s]{0,}([-]?[\d\.\,]{1,})", flags=re.MULTILINE | re.DOTALL)
gemma_format = re.compile(rf"^[\s]{{0,}}{rs}.+?{re_}.*?{ss}(.+?){se}[\s]{{0,}}$", flags=re.MULTILINE | re.DOTALL)
gemma_numbers = re.compile(rf"{ss}.*?([\d\.]{{1,}})", flags=re.MULTILINE | re.DOTALL)

def exactly(fmt):
    return lambda c, a: 3.0 if fmt.search(c) is not None else 0.0

def approx(hit, miss, tags):
    return lambda c, a: sum(hit if c.count(t) == 1 else miss for t in tags)

def check_answer(fmt, nomatch, exact, stripped, r10, r20, wrong, exc):
    def f(c, true_answer):
        m = fmt.search(c)
        if m is None:
            return nomatch
        guess = m.group(1)
        if guess == true_answer:
            return exact
        if guess.strip() == true_answer.strip():
            return stripped
        try:
            ratio = float(guess) / float(true_answer)
            if ratio >= 0.9 and ratio <= 1.1: return r10
            if ratio >= 0.8 and ratio <= 1.2: return r20
            return wrong
        except Exception:
            return exc
    return f

def check_numbers(nums, nomatch, equal, differ, commas):
    def f(c, true_answer):
        m = nums.search(c)
        if m is None:
            return nomatch
        try:
            t = float(true_answer.strip())
            g = m.group(1).strip()
            if commas:
                g = g.replace(",", "")
            g = float(g)
            return equal if g == t else differ
        except Exception:
            return 0
    return f

FUNCS = {
    "xmlcount_reward_func": xmlcount, "soft_format_reward_func": soft_format,
    "strict_format_reward_func": strict_format, "int_reward_func": int_reward, "correctness_reward_func": correctness,
    "qwen3/match_format_exactly": exactly(qwen3_format),
    "qwen3/match_format_approximately": approx(0.5, -1.0, [re_, ss, se]),
    "qwen3/check_answer": check_answer(qwen3_format, -2.0, 5.0, 3.5, 2.0, 1.5, -2.5, -4.5),
    "qwen3/check_numbers": check_numbers(qwen3_numbers, -2.5, 3.5, -1.5, True),
    "gemma3/match_format_exactly": exactly(gemma_format),
    "gemma3/match_format_approximately": approx(0.5, -0.5, [rs, re_, ss, se]),
    "gemma3/check_answer": check_answer(gemma_format, 0.0, 3.0, 1.5, 0.5, 0.25, -1.0, -0.5),
    "gemma3/check_numbers": check_numbers(gemma_numbers, 0.0, 1.5, 0.0, False),
}

HAND = [
    ("<reasoning>\n48/2 = 24\n</reasoning>\n<answer>\n72\n</answer>\n", "72"),
    ("<reasoning>\nline one\nline two\n</reasoning>\n<answer>\n72\n</answer>\n", "72"),
    ("<reasoning>\nx\n</reasoning>\n<answer>\n72\n</answer>\n\n", "72"),
    ("<reasoning>\nx\n</reasoning>\n<answer>\n72\n</answer>", "72"),
    ("<reasoning>\nx\n</reasoning>\n<answer>\n72\n</answer>\ntrailing text", "72"),
    ("<reasoning>x</reasoning> \n\t <answer>72</answer>", "72"),
    ("<reasoning>x\ny</reasoning><answer>72</answer>", "72"),
    ("  <reasoning>x</reasoning><answer>72</answer>", "72"),
    ("The answer is 72", "72"), ("<answer> 72 </answer>", "72"), ("<answer>\n7.2\n</answer>", "72"),
    ("<answer>\n-3\n</answer>", "-3"), ("<answer>\n²\n</answer>", "2"), ("<answer>\n٣\n</answer>", "3"),
    ("<answer>1</answer><answer>2</answer>", "2"), ("", "0"), ("<answer>", ""),
    ("<reasoning>\n\n</reasoning>\n<answer>\n\n</answer>\n", ""),
    ("<start_working_out>think<end_working_out><SOLUTION>72</SOLUTION>", "72"),
    ("<end_working_out><SOLUTION>72</SOLUTION><|endoftext|>", "72"),
    ("<start_working_out>a\nb<end_working_out>\nmore\n<SOLUTION> 72 </SOLUTION>  \n", "72"),
    ("<start_working_out>x<end_working_out><SOLUTION>70</SOLUTION>", "72"),
    ("<start_working_out>x<end_working_out><SOLUTION>60</SOLUTION>", "72"),
    ("<start_working_out>x<end_working_out><SOLUTION>1,000</SOLUTION>", "1000"),
    ("<start_working_out>x<end_working_out><SOLUTION>abc</SOLUTION>", "72"),
    ("<start_working_out>x<end_working_out><SOLUTION>5</SOLUTION>", "0"),
    ("<start_working_out>x<end_working_out><SOLUTION>-0.5</SOLUTION>", "-0.5"),
    ("<start_working_out>x<end_working_out><SOLUTION>72</SOLUTION>\nafter", "72"),
    ("<SOLUTION>the answer is 12.5 dollars</SOLUTION>", "12.5"),
    ("<start_working_out><start_working_out>x<end_working_out><SOLUTION>1</SOLUTION></SOLUTION>", "1"),
    ("<start_working_out>x<end_working_out><SOLUTION>  3  </SOLUTION>", "3"),
    ("<start_working_out>x<end_working_out><SOLUTION>1e2</SOLUTION>", "100"),
    ("<start_working_out>x<end_working_out><SOLUTION>inf</SOLUTION>", "72"),
]

PIECES = ["<reasoning>", "</reasoning>", "<answer>", "</answer>", "\n", "\n", " ", "  ", "\t", "72", "7", "-3", "1,000",
          "3.5", "abc", "x", "The answer", "<start_working_out>", "<end_working_out>", "<SOLUTION>", "</SOLUTION>",
          "<|endoftext|>", "\u00a0", "０", "²", "\r\n"]

def main():
    rng = random.Random(1234)
    cases = list(HAND)
    for _ in range(400):
        n = rng.randint(0, 12)
        text = "".join(rng.choice(PIECES) for _ in range(n))
        cases.append((text, rng.choice(["72", "7", "-3", "1000", "3.5", "0", " 72"])))
    out = []
    for text, ans in cases:
        out.append(dict(completion=text, answer=ans, scores={k: f(text, ans) for k, f in FUNCS.items()}))
    print(json.dumps(dict(generator="scripts/make_reward_goldens.py", cases=out), ensure_ascii=False))

main()
