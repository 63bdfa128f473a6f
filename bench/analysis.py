"""AI analysis: what one analysis sends, run by hand (`python bench/analysis.py`).

Against the loopback stub of the Messages API (tests/fakes/claude.py), through the real
anthropic SDK: the input tokens of one analysis for a PR of 5, 50 and 500 changed files (the
ANALYSIS_INPUT_TOKENS budget must hold), and the share of input served from the prompt cache
when 8 jobs of one head fail (the PR's part is the same for each). The stub counts tokens as
characters / 4; prmonitor's own estimate (context.tokens) is characters / 3.5, so the budget
holds with a margin for real tokenizers on code.
"""

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import anthropic  # noqa: E402

from prmonitor.failures import analysis, context  # noqa: E402
from tests.fakes.claude import KEY, ClaudeStub, serve_claude  # noqa: E402

LOCKFILES = ("package-lock.json", "yarn.lock", "poetry.lock")


def changed_files(count, rng):
    """A PR of `count` files: source and tests with patches of 5 to 120 lines, a lockfile."""
    files = []
    for i in range(count):
        folder = rng.choice(["src/core", "src/api", "src/ui", "tests", "docs"])
        lines = rng.randint(5, 120)
        patch = "".join(
            f"{rng.choice('+- ')}    value_{i}_{n} = compute(item_{n}, option={n % 7})\n"
            for n in range(lines)
        )
        files.append(context.ChangedFile(f"{folder}/module_{i}.py", "modified", lines, 2, patch))
    lock = rng.choice(LOCKFILES)
    files.append(context.ChangedFile(lock, "modified", 4000, 3000, "+ dep\n" * 4000))
    return files


def failure(i, files):
    named = files[i % len(files)].filename
    excerpt = (
        f"{named}:42: in test_case_{i}\n    assert result == expected\n"
        f"E   AssertionError: assert 3 == 4 (case {i})\n" * 40
    )
    return {
        "workflow": "CI",
        "job": f"test (shard {i})",
        "step": "Run tests",
        "line": f"AssertionError: assert 3 == 4 (case {i})",
        "excerpt": excerpt,
        "class": "new",
        "reason": "no pass on the same commit",
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,50,500")
    parser.add_argument("--budget", type=int, default=30_000)
    parser.add_argument("--jobs", type=int, default=8)
    options = parser.parse_args()
    stub = ClaudeStub()
    url, stop = serve_claude(stub)
    claude = anthropic.Anthropic(api_key=KEY, base_url=url, max_retries=0)
    rng = random.Random(7)
    print(f"budget {options.budget} input tokens; {options.jobs} failing jobs per head")
    header = ("files", "estimate", "stub in", "to cache", "all jobs in", "from cache")
    print("{:>6} {:>9} {:>8} {:>9} {:>11} {:>11}".format(*header))
    try:
        for size in [int(s) for s in options.sizes.split(",")]:
            files = changed_files(size, rng)
            body = "This change reworks the module layout.\n" * 40
            total = read = 0
            first = None
            for i in range(options.jobs):
                prompt = analysis.build_prompt(
                    f"Rework {size} modules", body, files, failure(i, files), options.budget
                )
                sent = context.tokens(prompt["sent"]["all"])
                usage = claude.messages.create(**analysis.request_for("claude-bench", prompt)).usage
                whole = (
                    usage.input_tokens
                    + usage.cache_read_input_tokens
                    + usage.cache_creation_input_tokens
                )
                first = first or (sent, whole, usage.cache_creation_input_tokens)
                total += whole
                read += usage.cache_read_input_tokens
                assert sent <= options.budget, f"{size} files: {sent} tokens over the budget"
            print(
                f"{size:>6} {first[0]:>9} {first[1]:>8} {first[2]:>9} {total:>11} "
                f"{read / total:>11.0%}"
            )
    finally:
        claude.close()
        stop()


if __name__ == "__main__":
    main()
