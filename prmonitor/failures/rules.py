"""The failure rules as data: which line shapes explain a CI failure, and how much each one weighs."""
# ruff: noqa: E501

import re
from dataclasses import dataclass, field

# How to read and add rules
#
# Each cleaned log line (GitHub's ##[error] marker removed) is offered to the rules in the
# order below; the FIRST rule whose pattern is found claims the line. Order only decides
# between rules that fit the same line: wrappers are listed before the catch-alls that would
# also fit them. `priority` then ranks the claimed lines against each other; at equal
# priority the earliest line wins (the first of several errors of one tool).
#
#   95-99  the runner itself gave up (shutdown, lost communication, disk full, job timeout)
#   85-94  crashes, sanitizers, out of memory, test timeouts
#   70-84  the error itself: compiler diagnostics, failing assertions, uncaught exceptions
#   55-69  failing test names, lint findings, dependency and package-manager errors
#   40-54  known tool errors with less context; build-step and docker-step failures
#   13-39  catch-all shapes
#   12     (synthetic) the last output line before a wrapper, when nothing else matched
#   1-11   wrappers and summaries (generic=True): they report a failure, they don't explain it
#   0      noise: claims the line so that no later rule reads it (warnings, help text)
#
# generic=True: never evidence that two failures are the same (exit codes, "1 failed").
# infrastructure=True: the runner, the network or a registry failed, not the code.
# signature_group: the group of the match that identifies the failure (default: the line).
# Patterns need literal text for the prefilter (prefilter.py): each top-level branch starts
# with literal text (after ^ and indentation), or contains one of prefilter.COARSE's stems
# ("rror", "ail", ...); else the pattern is one ^-anchored branch (a "shape", tried at the
# start of every line: keep those few). Which step's lines compete is walk.py's business.


@dataclass(frozen=True)
class Rule:
    name: str
    family: str
    priority: int
    pattern: str
    signature_group: int | str | None = None
    generic: bool = False
    infrastructure: bool = False
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "regex", _compile(self))


class RuleError(ValueError):
    """A rule that cannot be used, named in the message."""


def _compile(rule: Rule) -> re.Pattern:
    if not isinstance(rule.priority, int) or isinstance(rule.priority, bool) or rule.priority < 0:
        raise RuleError(f"rule {rule.name!r}: priority must be an int >= 0, not {rule.priority!r}")
    try:
        regex = re.compile(rule.pattern)
    except re.error as error:
        raise RuleError(f"rule {rule.name!r}: bad pattern {rule.pattern!r}: {error}") from None
    group = rule.signature_group
    if group is not None and not (
        group in regex.groupindex or (isinstance(group, int) and 0 <= group <= regex.groups)
    ):
        raise RuleError(f"rule {rule.name!r}: signature_group {group!r} is not in its pattern")
    return regex


# fmt: off
RULES: tuple[Rule, ...] = (
    # The runner, GitHub and the machine.
    Rule("runner-shutdown", "runner", 98, r"^The runner has received a shutdown signal", infrastructure=True),
    Rule("runner-lost", "runner", 98, r"^The self-hosted runner: .+? lost communication with the server|^The hosted runner: .+? lost communication with the server|^The runner: .+? lost communication with the server", infrastructure=True),
    Rule("runner-error", "runner", 98, r"runner encountered an error while running your job", infrastructure=True),
    Rule("billing", "runner", 95, r"^The job was not started because (?:recent account payments have failed|your account is locked|your spending limit)", infrastructure=True),
    Rule("no-runner", "runner", 95, r"^This request was automatically failed because there were no enabled runners online|^No runner matching the specified labels was found", infrastructure=True),
    Rule("no-space", "disk", 96, r"[Nn]o space left on device", infrastructure=True),
    Rule("job-timeout", "timeout", 97, r"^The job running on runner .+ has exceeded the maximum execution time"),
    Rule("step-timeout", "timeout", 96, r"^The action (?:'.+' )?has timed out"),
    Rule("action-download", "runner", 92, r"^Failed to download action '", infrastructure=True),
    Rule("action-resolve", "actions", 90, r"^(?:Unable to resolve action|Can't find 'action\.ya?ml')"),
    Rule("registry-rate-limit", "network", 92, r"^toomanyrequests: |^(?=.*(?:rror|RROR|ail)).*?(?:toomanyrequests|pull rate limit)", infrastructure=True),
    Rule("api-rate-limit", "network", 80, r"^(?:GraphQL: )?API rate limit exceeded|^You have exceeded a secondary rate limit|^(?=.*(?:rror|RROR|ail)).*?(?:API rate limit exceeded|secondary rate limit)", infrastructure=True),
    # Crashes, sanitizers, memory, timeouts inside the job.
    Rule("sanitizer", "sanitizer", 92, r"^==\d+==ERROR: (\w+Sanitizer: [\w-]+)", signature_group=1),
    Rule("thread-sanitizer", "sanitizer", 90, r"^WARNING: ThreadSanitizer: (.+?)(?: \(pid=\d+\))?$", signature_group=1),
    Rule("go-race", "sanitizer", 90, r"^WARNING: DATA RACE"),
    Rule("valgrind", "sanitizer", 85, r"^==\d+== ERROR SUMMARY: [1-9]\d* errors?"),
    Rule("ubsan", "sanitizer", 90, r": runtime error: (?!invalid memory address)(.+)"),
    Rule("go-test-timeout", "timeout", 90, r"^panic: test timed out after"),
    Rule("pytest-timeout", "timeout", 88, r"Failed: Timeout >[\d.]+s|^Timeout \(\d+:\d\d:\d\d\)!"),
    Rule("node-oom", "oom", 92, r"JavaScript heap out of memory"),
    Rule("java-oom", "oom", 92, r"java\.lang\.OutOfMemoryError(.*)"),
    Rule("cuda-oom", "oom", 92, r"CUDA out of memory|CUDA error: out of memory"),
    Rule("compiler-killed", "oom", 90, r"Killed signal terminated program|fatal error: Killed"),
    Rule("go-fatal", "crash", 90, r"^fatal error: (?:all goroutines are asleep|concurrent map|runtime: |stack overflow|unexpected signal)"),
    Rule("go-panic", "crash", 90, r"^panic: (.+?)(?: \[recovered\])?$", signature_group=1),
    Rule("fatal-python", "crash", 90, r"^Fatal Python error: (.+)"),
    Rule("alloc-failed", "oom", 90, r"memory allocation of \d+ bytes failed|^Expiring Daemon because JVM heap space is exhausted"),
    Rule("python-oom", "oom", 88, r"^(?:\w+\.)*MemoryError\b"),
    Rule("segfault", "crash", 88, r"Segmentation fault|signal: segmentation fault"),
    Rule("signal", "crash", 86, r"Aborted \(core dumped\)|Bus error \(core dumped\)|Floating point exception \(core dumped\)|signal: (?:killed|abort trap|aborted|bus error)"),
    Rule("killed", "oom", 86, r"^Killed$|: line \d+: +\d+ Killed\b"),
    Rule("rust-overflow", "crash", 88, r"^thread '[^']*' has overflowed its stack"),
    Rule("exit-137", "oom", 20, r"^Process completed with exit code 137\b|^(?=.*(?:failed|rror)).*?exit code:? 137\b|Error 137\b"),
    Rule("canceled", "cancel", 45, r"^The operation was canceled\.|^Canceling since a higher priority waiting request"),
    # Noise: warnings and help text that mention errors without being one.
    Rule("warning", "noise", 0, r"^(?:warning|Warning|WARNING|WARN|warn)(?:: | |\] )|^W: |^\[(?:WARNING|WARN|INFO|DEBUG)\]|^npm (?:WARN|warn) |^(?:Debug|Notice): "),
    Rule("pip-resolver-notice", "noise", 0, r"^ERROR: pip's dependency resolver does not currently"),
    Rule("npm-log-path", "noise", 0, r"^npm (?:ERR!|error)(?:\s*$| +/\S+\.log$| +A complete log of this run| +Log files were not written)"),
    Rule("maven-help", "noise", 0, r"^\[ERROR\] (?:-> \[Help|To see the full|Re-run Maven|For more information about|\[Help \d|After correcting|\s+mvn |\s*$|Please refer to|See dump files)"),
    Rule("build-tool-help", "noise", 0, r"^(?:\* What went wrong:|\* Try:|> Run with --|> Get more help|info Visit https://yarnpkg\.com|\[error\] Total time:|Summary of all failing tests$)"),
    # Wrappers: they report that something failed.
    Rule("exit-code", "actions", 5, r"^(?:Error: )?Process completed with exit code (\d+)", generic=True),
    Rule("process-failed", "actions", 6, r"^(?:Error: )?The process '.+' failed with exit code \d+", generic=True),
    Rule("make-wrapper", "make", 8, r"^g?make(?:\[\d+\])?: \*\*\* .*(?:Error|Killed|Interrupt)", generic=True),
    Rule("ninja-stopped", "make", 8, r"^ninja: build stopped|^FAILED: Build did NOT complete successfully", generic=True),
    Rule("link-wrapper", "link", 8, r"error: ld returned \d+ exit status|linker command failed with exit code|^ld: symbol\(s\) not found|all warnings being treated as errors", generic=True),
    Rule("cargo-wrapper", "rust", 8, r"^error: (?:could not compile|aborting due to|test failed, to rerun|process didn't exit successfully|build failed|\d+ targets? failed|Recipe `|script \"\S+\" exited with code|command '.+' failed with exit (?:code|status))", generic=True),
    Rule("npm-wrapper", "npm", 8, r"^npm (?:ERR!|error) (?:code (?:ELIFECYCLE|\d+)$|errno |Lifecycle script|Test failed|Failed at the|command (?:failed|sh -c|\S+$)|path |workspace |location |signal |Exit status|\S+@\S+ [\w:-]+: |This is probably not a problem)", generic=True),
    Rule("yarn-wrapper", "yarn", 8, r"^error Command failed(?: with exit code \d+)?\.|^➤ YN0000: (?:└ Completed with errors|Failed with errors)", generic=True),
    Rule("pnpm-wrapper", "pnpm", 8, r"^\s*(?:ELIFECYCLE\s|ERR_PNPM_RECURSIVE_(?:RUN|EXEC)_FIRST_FAIL|ERR_PNPM_RECURSIVE_FAIL)", generic=True),
    Rule("monorepo-wrapper", "npm", 8, r"^\s*ERROR\s+run failed: |^lerna ERR! |command finished with error|^\s*NX\s+(?:Running target|Ran target) .+ failed", generic=True),
    Rule("python-wrapper", "python", 9, r"^(?:subprocess\.)?CalledProcessError: |^Error: Command failed: |^SystemExit: \d|^ERROR:\s+\S+: (?:commands failed|InvocationError)|^\s*\S+: FAIL code \d+|evaluation failed :\(|^nox > Session .+ failed|^\s*error: subprocess-exited-with-error|^ERROR: InvocationError", generic=True),
    Rule("pytest-summary", "pytest", 8, r"^={3,} .*\b[1-9]\d* (?:failed|errors?)\b.* =+$|^!{3,} .*Interrupted: \d+ errors?|^Interrupted: \d+ errors? during collection", generic=True),
    Rule("test-summary", "tests", 8, r"^FAILED \((?:failures|errors)=\d+|^\s*✖\s+[1-9]\d* of \d+ failed|^\s*[1-9]\d* fail$|^Test Suites: [1-9]\d* failed|^Tests:\s+[1-9]\d* failed|^\s*[1-9]\d* failing$|^\s*[1-9]\d* failed$|^\s*Test Files\s+[1-9]\d* failed|^\s*Tests\s+[1-9]\d* failed|^test result: FAILED\.|^\d+ examples?, [1-9]\d* failures?|^\d+ runs?, \d+ assertions?, (?:[1-9]\d* failures?, \d+ errors?|\d+ failures?, [1-9]\d* errors?)|^\d+ tests?, [1-9]\d* failures?|^(?:FAILURES|ERRORS)!$|^Tests: \d+, Assertions: \d+, |^There (?:was|were) \d+ (?:failures?|errors?):$|^Executed \d+ tests?, with [1-9]\d* failures?|^Executed \d+ of \d+ .*\(\d+ FAILED\)|^[1-9]\d* out of \d+ tests failed|^\d+ tests completed, [1-9]\d* failed|^\d+% tests passed, [1-9]\d* tests? failed|^Errors while running CTest|^\[  FAILED  \] \d+ tests?, listed below|^DONE \d+ tests?.*\d+ failures?|^test cases: .*\d+ failed|^Failed!\s+- Failed:|^\s*Summary \[.*\d+ failed|^\s*Ran \d+ of \d+ Specs? .*FAIL|^Summarizing \d+ Failures?:", generic=True),
    Rule("build-summary", "build", 8, r"^FAILURE: Build failed with an exception|^BUILD FAILED|^Build FAILED\.|^\*\* (?:TEST|BUILD|ARCHIVE) FAILED \*\*|^Testing failed:|^The following build commands failed:|^\s*\d+ Error\(s\)$|^-- Configuring incomplete, errors occurred|^> There were failing tests|^> Compilation (?:error|failed)|^Execution failed for task|^\[ERROR\] Tests run: \d+, Failures: \d+(?:, Errors: \d+)?(?:, Skipped: \d+)?$|^\[ERROR\] COMPILATION ERROR|^Found [1-9]\d* errors?\b|^✖ [1-9]\d* problems? \(|^\d+ problems? \([1-9]\d* errors?|^Oh no! 💥|^[1-9]\d* errors?, \d+ warnings?, \d+ informations?|^[1-9]\d* errors? generated\.|^Automatic merge failed|^\[error\] \(.+\) (?:sbt\.TestsFailedException|Compilation failed)|^\[error\] (?:Failed tests:|\d+ errors? found|one error found)|^\s*Your code has been rated at|^FAIL\s+\S+\s+(?:[\d.]+s|\(cached\)|\[build failed\]|\[setup failed\])|^FAIL$|^exit status \d+$|^Error: buildx failed with: (?!.*failed to solve)|^Error: cabal: (?:Tests failed|Failed to build)|^Error: \[S-\d+\]", generic=True),
    Rule("maven-goal-wrapper", "maven", 9, r"^\[ERROR\] Failed to execute goal .+?: (?:There are test failures|There was an error in the forked process|Compilation failure|There are \d+ (?:errors|checkstyle))", generic=True),
    Rule("msbuild-wrapper", "dotnet", 8, r"error MSB3073:|error MSB4181:", generic=True),
    # Python and its test runners.
    Rule("pytest-failed", "pytest", 84, r"^(?:FAILED|ERROR) (\S+\.py\b\S*).*? - \S"),
    Rule("pytest-failed-id", "pytest", 76, r"^(?:\[gw\d+\] (?:\[ *\d+%\] )?)?(?:FAILED|ERROR) (\S+\.py\b\S*)", signature_group=1),
    Rule("pytest-error-line", "pytest", 80, r"^E   +(\S.*)", signature_group=1),
    Rule("pytest-progress", "pytest", 64, r"^(\S+\.py::\S.*?) (?:FAILED|ERROR)(?: +\[ *\d+%\])?$", signature_group=1),
    Rule("pytest-header", "pytest", 62, r"^___+ ((?:ERROR collecting |ERROR at \w+ of )?(?!summary )\S.*?) ___+$", signature_group=1),
    Rule("pytest-import", "pytest", 50, r"^ImportError while (?:importing test module|loading conftest) '(.+)'"),
    Rule("coverage", "coverage", 70, r"^(?:FAIL )?Required test coverage of [\d.]+% not reached|^Coverage failure: total of|^Jest: \".+\" coverage threshold for \w+ \([\d.]+%\) not met"),
    Rule("unittest", "unittest", 70, r"^(?:FAIL|ERROR): (\w+) \(([\w.]+)\)"),
    Rule("mypy", "mypy", 66, r"^\S+\.pyi?:\d+(?::\d+)?: error: (.+?)(?:  \[[\w-]+\])?$"),
    Rule("pyright", "pyright", 66, r"^\s+\S+\.pyi?:\d+:\d+ - error: (.+)"),
    Rule("python-lint", "lint", 62, r"^\S+?\.py:\d+:\d+: [A-Z]{1,4}\d{2,4}:? (.+)"),
    Rule("ruff-full", "lint", 60, r"^[A-Z]{1,4}\d{3,4} (?:\[\*\] )?\S.+"),
    Rule("formatter", "format", 62, r"^(?:would reformat|Would reformat:) (.+)|^ERROR: (.+) Imports are incorrectly sorted|^Diff in (\S+) at line \d+:|^Diff in (\S+?):\d+:$|^\[warn\] Code style issues found"),
    Rule("pre-commit", "pre-commit", 50, r"^(.+?)\.{3,}(?:\(no files to check\))?Failed$", signature_group=1),
    Rule("pip-resolve", "pip", 64, r"^ERROR: (?:Could not find a version that satisfies the requirement|No matching distribution found for|Cannot install .+ because these package versions have conflicting dependencies|ResolutionImpossible|Could not install packages due to an \w+|THESE PACKAGES DO NOT MATCH THE HASHES|Package '.+' requires a different Python|Invalid requirement|Could not open requirements file|Directory '.+' is not installable|File \"setup\.py\" (?:or \"setup\.cfg\" )?not found)"),
    Rule("pip-build", "pip", 40, r"^ERROR: (?:Failed building wheel for|Could not build wheels for|Failed to build installable wheels)|^\s*× (.+)"),
    Rule("uv-resolve", "pip", 62, r"^\s*╰─▶ (.+)|^\s*× No solution found when resolving dependencies"),
    Rule("resolver", "packages", 62, r"^\s*Because .+(?:version solving failed|is forbidden|we can conclude that .+ unsatisfiable)|^The current project's supported Python range|^pyproject\.toml changed significantly since poetry\.lock|^\s*- Root composer\.json requires .+|^Your requirements could not be resolved to an installable set"),
    # JavaScript and TypeScript.
    Rule("tsc", "tsc", 80, r"error (TS\d+): (.+)"),
    Rule("esbuild", "bundler", 72, r"^\s*✘ \[ERROR\] (.+)|^Module not found: (.+)|^Type error: (.+)|^\[vite\]: (.+)|^ERROR in (.+)"),
    Rule("eslint", "lint", 62, r"^\s+\d+:\d+\s+error\s+(.+?)(?:\s{2,}([\w@/-]+))?$"),
    Rule("stylelint", "lint", 62, r"^\s++\d+:\d+\s+(?:✖|×)\s+(.+)"),
    Rule("prettier-error", "format", 62, r"^\[error\] (\S+: \w*Error: .+)"),
    Rule("jest-suite", "jest", 50, r"^\s*● Test suite failed to run"),
    Rule("jest-test", "jest", 74, r"^\s*● (?!Console\b)(.+)", signature_group=1),
    Rule("vitest-test", "vitest", 72, r"^\s*FAIL(?:ED)?\s+(\S.*? > .+)", signature_group=1),
    Rule("jest-resolve", "jest", 70, r"^\s*Cannot find module '(.+?)' from '(.+?)'"),
    Rule("jest-file", "jest", 55, r"^\s*FAIL\s+(\S+\.(?:[cm]?[jt]sx?|vue|svelte))\b", signature_group=1),
    Rule("playwright", "playwright", 72, r"^\s++\d+\) \[[^\]]+\] › (.+?)(?:\s+─+)?$", signature_group=1),
    Rule("karma", "karma", 70, r"^(?:Headless)?(?:Chrome|Firefox|Safari|Edge|Electron|HeadlessChrome)\b[^)]*\)\s+(.+?) FAILED$", signature_group=1),
    Rule("bun-test", "bun", 70, r"^\(fail\) (.+?)(?: \[[\d.]+m?s\])?$", signature_group=1),
    Rule("cypress", "cypress", 55, r"^\s*│\s+✖\s+(\S+)"),
    Rule("commitlint", "lint", 62, r"^✖\s+(.+?)\s+\[[\w-]+\]$"),
    Rule("test-cross", "tests", 62, r"^\s*(?:×|✗|✖) (.+?)(?: \(?[\d.]+ ?m?s\)?)?$", signature_group=1),
    Rule("npm-network", "network", 60, r"^npm (?:ERR!|error) (?:network|code (?:ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|ECONNREFUSED))", infrastructure=True),
    Rule("npm-404", "npm", 64, r"^npm (?:ERR!|error) 404 (.+)"),
    Rule("npm-eresolve", "npm", 64, r"^npm (?:ERR!|error) ERESOLVE (.+)"),
    Rule("npm-code", "npm", 40, r"^npm (?:ERR!|error) code (E\w+)"),
    Rule("npm-error", "npm", 45, r"^npm (?:ERR!|error) (.+)"),
    Rule("yarn-berry", "yarn", 58, r"^➤ YN(?:0001|0009|0018|0028|0035|0041|0046|0056|0061|0071|0080|0083): (.+)"),
    Rule("pnpm-error", "pnpm", 62, r"^\s*ERR_PNPM_\w+\s+(.+)"),
    Rule("node-gyp", "npm", 30, r"^gyp ERR! (.+)"),
    # Go.
    Rule("go-test-message", "go", 76, r"^\s+(\w+_test\.go:\d+): (\S.*)"),
    Rule("testify", "go", 76, r"^\s+Error:\s*\t(.+)"),
    Rule("go-fail", "go", 70, r"^\s*(?:--- FAIL|=== FAIL): (?:\S+ )?(\S+) \(", signature_group=1),
    Rule("ginkgo", "go", 70, r"^\s*\[FAIL\] (.+)"),
    Rule("golangci-lint", "lint", 62, r"^\S+\.go:\d+:\d+: (.+) \((\w[\w-]*)\)$"),
    Rule("go-build", "go", 78, r"^\S*\.go:\d+(?::\d+)?: (.+)"),
    Rule("go-command", "go", 55, r"^go: (?!downloading|finding|added|upgraded|extracting|creating|to add|found|using|upgrade)(.+)"),
    # Rust.
    Rule("rustc", "rust", 80, r"^error\[[\w-]+\]: (.+)"),
    Rule("rust-panic", "rust", 80, r"^thread '([^']*)' panicked at (.+)"),
    Rule("cargo-test", "rust", 64, r"^test (\S+) \.\.\. FAILED$", signature_group=1),
    Rule("nextest", "rust", 70, r"^\s+(?:FAIL|SIGSEGV|SIGABRT|TIMEOUT) \[\s*[\d.]+s\] (.+)", signature_group=1),
    Rule("cargo-build-script", "rust", 40, r"^error: failed to run custom build command for (.+)"),
    # C, C++, Objective-C, Swift, Haskell, Java (javac), linkers and build systems.
    Rule("configure", "build", 75, r"^configure: error: (.+)"),
    Rule("xctest", "xctest", 82, r"^(.+?):(\d+): error: (-\[[\w.]+ \w+\]|[\w.]+) : (.+)"),
    Rule("swift-testing", "swift", 80, r"^\s*[✘􀢄] Test (.+?) recorded an issue at (.+)"),
    Rule("ghc", "haskell", 80, r"^\S+\.l?hs:[\d:()\-,]+: error:"),
    Rule("compiler", "compile", 80, r"^(?!\s)(.+?):(\d+)(?::(\d+))?: (?:fatal )?error:(?: (.+))?"),
    Rule("msvc", "compile", 80, r"^(?!\s)(.+?)\((\d+)(?:,(\d+))?(?:,\d+,\d+)?\)\s?: (?:fatal )?error ([A-Z][A-Z0-9_]*): (.+)"),
    Rule("msvc-project", "compile", 78, r"^(.+?) : (?:fatal )?error ([A-Z]+\d+): (.+)"),
    Rule("tool-error", "compile", 76, r"^[\w+.-]+: (?:fatal )?error: (.+)"),
    Rule("kotlin", "kotlin", 80, r"^e:\s(?:file:|/|[A-Z]:)(.+)"),
    Rule("maven-compile", "maven", 80, r"^\[ERROR\] (\S.*?\.(?:java|kt|scala|groovy)):\[(\d+),(\d+)\] (.+)"),
    Rule("scala", "scala", 80, r"^\[error\] (?:(\S+\.scala):(\d+):(\d+): (.+)|-- (?:\[E\d+\] )?\w[\w ]*Error: (.+))"),
    Rule("undefined-reference", "link", 78, r"undefined reference to [`'](.+?)'|cannot find -l(\S+): No such file|undefined symbol: (.+)"),
    Rule("undefined-symbols", "link", 76, r"^Undefined symbols for architecture (\S+):"),
    Rule("lnk", "link", 78, r"error (LNK\d+): (.+)"),
    Rule("cmake", "cmake", 75, r"^CMake Error(?: at (.+?):(\d+) \((\w+)\))?:?(.*)"),
    Rule("make-no-rule", "make", 62, r"^g?make(?:\[\d+\])?: \*\*\* (No rule to make target .+)", signature_group=1),
    Rule("ninja-failed", "build", 40, r"^FAILED: (.+)", signature_group=1),
    Rule("gtest", "gtest", 70, r"^\[  FAILED  \] (\S+)", signature_group=1),
    Rule("gtest-failure", "gtest", 60, r"^(.+?):(\d+): Failure$"),
    Rule("catch2", "catch2", 66, r"^(.+?):(\d+): FAILED:$"),
    Rule("ctest", "ctest", 66, r"^\s*+\d+ - (\S+) \((?:Failed|SEGFAULT|Timeout|Subprocess aborted|Child aborted|Exception|OTHER_FAULT|ILLEGAL|Not Run|BAD_COMMAND)\)", signature_group=1),
    Rule("ctest-progress", "ctest", 64, r"^\s*\d+/\d+ Test +#\d+: (\S+) \.+\s*\*+(?:Failed|Exception|Timeout)", signature_group=1),
    Rule("meson-test", "meson", 64, r"^\s*\d+/\d+ (\S+)\s+FAIL\s", signature_group=1),
    Rule("bazel-test", "bazel", 66, r"^(//\S+) +(?:FAILED|FAILED TO BUILD)(?: in |$)", signature_group=1),
    # JVM build tools and tests.
    Rule("surefire-results", "maven", 82, r"^\[ERROR\]\s{2,}((?:[\w$]+\.)+[\w$\[\]()]+(?::\d+ | » ).+)", signature_group=1),
    Rule("surefire-class", "maven", 50, r"^\[ERROR\] Tests run: .+<<< (?:FAILURE|ERROR)!"),
    Rule("surefire-test", "maven", 70, r"^\[ERROR\] (\S+?)(?:\(([\w.$]+)\))?\s+(?:--\s+)?Time elapsed: .+?<<< (?:FAILURE|ERROR)!"),
    Rule("maven-goal", "maven", 50, r"^\[ERROR\] Failed to execute goal (.+)"),
    Rule("maven-error", "maven", 45, r"^\[ERROR\] (.+)"),
    Rule("gradle-test", "gradle", 70, r"^([\w.$]+) > (.+?) FAILED$"),
    Rule("gradle-task", "gradle", 40, r"^> Task (\S+) FAILED$", signature_group=1),
    Rule("gradle-cause", "gradle", 58, r"^> (Could not (?:find|resolve|GET|HEAD|get|download|determine|create|read)\b.+|Failed to (?:apply|notify|calculate|transform|resolve|create|install)\b.+|Dependency requires at least .+|No matching variant .+|Unsupported class file major version .+|SDK location not found.+|Android resource linking failed.*|A problem occurred .+|The following files had format violations:?)"),
    Rule("sbt-test", "scala", 70, r"^\[info\] - (.+) \*\*\* FAILED \*\*\*|^==> X (\S+)"),
    Rule("sbt-error", "scala", 45, r"^\[error\] (.+)"),
    # .NET.
    Rule("dotnet-test", "dotnet", 70, r"^\s*Failed (.+) \[(?:< )?\d+(?:\.\d+)? m?s\]$", signature_group=1),
    Rule("nunit", "dotnet", 70, r"^\d+\) (?:Failed|Error) : (\S+)", signature_group=1),
    Rule("dotnet-assert", "dotnet", 62, r"^\s+Assert\.\w+\(\) Failure"),
    Rule("dotnet-unhandled", "dotnet", 74, r"^Unhandled exception\. (.+)"),
    # Ruby.
    Rule("rspec-failure", "rspec", 74, r"^\s+Failure/Error: (.+)"),
    Rule("rspec-rerun", "rspec", 66, r"^rspec (\./\S+?(?::\d+|\[[\d:,]+\])) # (.+)"),
    Rule("rspec-load", "rspec", 60, r"^An error occurred while loading (\S+)"),
    Rule("minitest", "minitest", 70, r"^([A-Z][\w:]*+#test_\w+)(?: \[(.+?):(\d+)\])?:$", signature_group=1),
    Rule("rails-test", "minitest", 62, r"^(?:bin/)?rails test (\S+:\d+)"),
    Rule("ruby-exception", "ruby", 74, r"^(\S+\.rb):(\d+):in [`'](.+?)': (.+) \(((?:\w+::)*\w*(?:Error|Exception))\)$"),
    Rule("rubocop", "lint", 62, r"^\S+\.rb:\d+:\d+: [CWEFR]: (?:\[Correctable\] )?(.+)"),
    Rule("bundler", "bundler", 64, r"^Could not find gem '|^Bundler could not find compatible versions|^An error occurred while installing (\S+ \(.+?\)), and Bundler cannot continue|^Your bundle is locked to|^bundler: failed to load command"),
    # PHP.
    Rule("phpunit-test", "phpunit", 70, r"^\d+\) ([\w\\]+::\w+)", signature_group=1),
    Rule("phpunit-assert", "phpunit", 66, r"^Failed asserting that (.+)"),
    Rule("php-fatal", "php", 80, r"^(?:PHP )?(?:Fatal error|Parse error|Catchable fatal error):\s+(.+)"),
    Rule("psalm", "lint", 62, r"^ERROR: (\w+) - (\S+:\d+:\d+) - (.+)"),
    # Elixir, Dart, Haskell tests, TAP.
    Rule("exunit-test", "exunit", 70, r"^\s++\d+\) test (.+) \(([\w.]+)\)$"),
    Rule("exunit-assert", "exunit", 64, r"^\s+(?:Assertion with .+ failed|Expected truthy, got .+|match \(=\) failed)"),
    Rule("elixir-raise", "elixir", 74, r"^\*\* \(([\w.]+)\) (.+)"),
    Rule("elixir-raise-nested", "elixir", 66, r"^\s+\*\* \(([\w.]+)\) (.+)"),
    Rule("dart-test", "dart", 70, r"^\d\d:\d\d \+\d+(?: ~\d+)? -\d+: (.+) \[E\]$", signature_group=1),
    Rule("dart-analyze", "dart", 78, r"^\s*error [•-] (.+)"),
    Rule("tasty", "haskell", 66, r"^\s+(.+):\s+FAIL(?: \([\d.]+s\))?$"),
    Rule("numbered-failure", "tests", 50, r"^  \d+\) (?!Failure:|Error:)(\S.+)"),
    Rule("minitest-header", "minitest", 50, r"^\s+\d+\) (?:Failure|Error):$"),
    Rule("tap", "tap", 62, r"^\s*not ok \d+ (.+)"),
    Rule("xctest-case", "xctest", 70, r"^Test Case '(.+)' failed \(|^\s*✘ Test (.+?) failed after"),
    # R, Julia, Perl, Clojure, Xcode and CocoaPods.
    Rule("testthat", "r", 72, r"^── (?:Failure|Error) \((.+?)\): (.+?) ─*$"),
    Rule("r-error", "r", 70, r"^Error in .+ : (.+)|^Error in (.+)"),
    Rule("julia-test", "julia", 72, r"^Test Failed at (.+)"),
    Rule("perl-test", "perl", 66, r"^\s*#\s+Failed test (.+)"),
    Rule("clojure-test", "clojure", 70, r"^(?:FAIL|ERROR) in \((.+?)\) \((.+)\)"),
    Rule("cross-mark", "error", 70, r"^\s*❌\s*(.+)"),
    Rule("bang-error", "build", 50, r"^\[!\] (.+)"),
    # Linters and checkers of other languages.
    Rule("shellcheck", "lint", 60, r"^\s*\^--* SC(\d{4}) \(\w+\): (.+)"),
    # Docker.
    Rule("docker-solve", "docker", 46, r"failed to solve: (.+)"),
    Rule("docker-step", "docker", 45, r"^\s*=> ERROR \[([^\]]+)\] (.+)|^ERROR \[([^\]]+)\] (.+)|^#\d+ ERROR: (.+)|^The command '.+' returned a non-zero code: \d+"),
    Rule("compose", "docker", 50, r"dependency failed to start: (.+)|^service \"\S+\" didn't complete successfully"),
    # Networks, registries, mirrors: worth reporting, and not the code's fault.
    Rule("network", "network", 58, r"^(?=.*(?:rror|RROR|ail|FAIL)).*?\b(?:ECONNRESET|ETIMEDOUT|EAI_AGAIN|socket hang up|Connection reset by peer|Temporary failure in name resolution|Could not resolve host|TLS handshake timeout|Read timed out|i/o timeout|getaddrinfo ENOTFOUND|Network is unreachable|Connection timed out)\b", infrastructure=True),
    Rule("http-5xx", "network", 58, r"^Response status code does not indicate success: (?:5\d\d|429)|^(?=.*(?:rror|RROR|ail|FAIL)).*?\b(?:502 Bad Gateway|503 Service (?:Temporarily )?Unavailable|504 Gateway Time-?out|429 Too Many Requests)", infrastructure=True),
    Rule("artifact", "artifacts", 62, r"Artifact not found for name|List Artifacts failed|Failed to (?:download|upload|finalize) artifact|Create Artifact Container failed", infrastructure=True),
    Rule("docker-pull", "docker", 60, r"^Docker pull failed with exit code|^Error response from daemon: (?:Get|Head) \"https?://", infrastructure=True),
    Rule("apt-fetch", "apt", 60, r"^E: (?:Failed to fetch|Could not get lock|Unable to fetch some archives|Some index files failed to download)", infrastructure=True),
    Rule("curl-network", "network", 60, r"^curl: \((?:6|7|28|35|52|56)\) (.+)", infrastructure=True),
    # Shell, git, system tools.
    Rule("command-not-found", "shell", 66, r": command not found\b|^(?:/bin/)?(?:sh|dash|bash): \d+: \S+: not found$|command not found: \S+|is not recognized as (?:the name of a cmdlet|a name of a cmdlet|an internal or external command)"),
    Rule("apt-missing", "apt", 64, r"^E: (?:Unable to locate package|Package '.+' has no installation candidate)"),
    Rule("apt-error", "apt", 50, r"^E:\s(.+)"),
    Rule("curl-error", "network", 55, r"^curl: \(\d+\) (.+)"),
    Rule("ansible", "ansible", 66, r"^fatal: \[[^\]]+\]: (?:FAILED|UNREACHABLE)! => (.+)"),
    Rule("git-conflict", "git", 62, r"^CONFLICT \([\w/-]+\): (.+)"),
    Rule("git-remote", "git", 58, r"^remote: (?:Repository not found|Permission to .+ denied|Invalid username or password|Support for password authentication was removed)"),
    Rule("git-fatal", "git", 55, r"^fatal: (.+)"),
    Rule("github-api", "actions", 62, r"^Resource not accessible by integration|^Input required and not supplied: (.+)"),
    Rule("terraform", "terraform", 66, r"^│ Error: (.+)"),
    Rule("docker-daemon", "docker", 55, r"^(?:docker: )?Error response from daemon: (.+)"),
    Rule("no-such-file", "shell", 54, r": No such file or directory$"),
    Rule("permission-denied", "shell", 52, r": Permission denied$"),
    Rule("git-diff", "git", 20, r"^diff --git a/(\S+) b/", signature_group=1),
    # Catch-alls, by shape.
    Rule("java-exception", "exception", 74, r"^Exception in thread \"[^\"]+\" (.+)"),
    Rule("python-traceback", "exception", 72, r"^Traceback \(most recent call last\):$"),
    Rule("exception", "exception", 72, r"^(?:Uncaught )?(?:[A-Za-z_][\w$]*\.)*(?:[A-Z]\w*)?(?:Error|Exception|Failure)(?: \[\w+\])?: \S|^(?:[A-Za-z_][\w$]*\.)*[A-Z]\w*(?:Error|Exception)$|^(?:[A-Za-z_]\w*\.)+(?:exceptions?|errors)\.[A-Z]\w*: \S"),
    Rule("keyboard-interrupt", "timeout", 60, r"^KeyboardInterrupt$|^!{3,} KeyboardInterrupt !+$"),
    Rule("caused-by", "exception", 71, r"^Caused by: (.+)"),
    Rule("exception-nested", "exception", 58, r"^\s+(?:Uncaught )?(?:[A-Za-z_][\w$]*\.)*(?:[A-Z]\w*)?(?:Error|Exception|Failure)(?: \[\w+\])?: \S.*"),
    Rule("error-colon", "error", 60, r"^error: (.+)"),
    Rule("fatal", "error", 55, r"^FATAL(?: ERROR)?:? (.+)"),
    Rule("yarn-error", "yarn", 50, r"^error (.+)"),
    Rule("error-caps", "error", 45, r"^ERROR:? (.+)"),
    Rule("diagnostic", "lint", 40, r"^([^\s:]++):(\d++):(\d++):? (?!(?:warning|note|info|notice|hint|remark|debug)\b)(\S.+)"),
    Rule("gha-error", "actions", 15, r"^##\[error\](.+)", signature_group=1, generic=True),
)
# fmt: on


def _validate(rules: tuple[Rule, ...]) -> dict[str, Rule]:
    by_name: dict[str, Rule] = {}
    for rule in rules:
        if rule.name in by_name:
            raise RuleError(f"rule {rule.name!r} is defined twice")
        by_name[rule.name] = rule
    return by_name


BY_NAME = _validate(RULES)
