"""The rules table: validated at import, keyed for the prefilter, and fitting real line shapes."""
# ruff: noqa: E501

import pytest

from prmonitor.failures.extract import rule_for
from prmonitor.failures.prefilter import Prefilter
from prmonitor.failures.rules import BY_NAME, RULES, Rule, RuleError, _validate


def test_rule_names_are_unique_and_priorities_sane():
    assert len(BY_NAME) == len(RULES)
    assert all(0 <= rule.priority <= 99 for rule in RULES)
    assert all(rule.generic for rule in RULES if 0 < rule.priority <= 11)


def test_a_duplicate_name_is_rejected_by_name():
    with pytest.raises(RuleError, match="'twice' is defined twice"):
        _validate((Rule("twice", "x", 50, r"^one"), Rule("twice", "x", 50, r"^two")))


def test_a_bad_regex_is_rejected_by_name():
    with pytest.raises(RuleError, match="rule 'broken': bad pattern"):
        Rule("broken", "x", 50, r"^error: (unclosed")


@pytest.mark.parametrize("group", [2, "missing"])
def test_a_signature_group_not_in_the_pattern_is_rejected(group):
    with pytest.raises(RuleError, match="rule 'grouped': signature_group"):
        Rule("grouped", "x", 50, r"^error: (\w+)", signature_group=group)


@pytest.mark.parametrize("priority", ["80", 1.5, -1, True])
def test_a_priority_must_be_an_int(priority):
    with pytest.raises(RuleError, match="rule 'ranked': priority"):
        Rule("ranked", "x", priority, r"^error: x")


@pytest.mark.parametrize("pattern", [r"\d+ things", r"(?i)no space left"])
def test_a_pattern_the_prefilter_cannot_key_is_rejected_by_name(pattern):
    with pytest.raises(RuleError, match="rule 'vague'"):
        Prefilter((Rule("vague", "x", 50, pattern),))


def test_every_rule_is_keyed_and_the_scan_finds_what_dispatch_needs():
    prefilter = Prefilter(RULES)
    keyed = {
        index
        for entries in prefilter.starts.values()
        for _, indices in entries
        for index in indices
    }
    keyed |= {
        index
        for groups in prefilter.stems.values()
        for indices in groups.values()
        for index in indices
    }
    keyed |= set(prefilter.shapes)
    assert keyed == set(range(len(RULES)))


# One real line per rule shape, as the tool prints it (cleaned), and the rule that claims it.
# fmt: off
SHAPES = [
    ('The runner has received a shutdown signal. This can happen when the runner service is stopped.', 'runner-shutdown'),
    ('The hosted runner: GitHub Actions 3 lost communication with the server. Anything in your workflow', 'runner-lost'),
    ('The hosted runner encountered an error while running your job. (Error Type: Disconnect).', 'runner-error'),
    ("OSError: [Errno 28] No space left on device: '/home/runner/.cache'", 'no-space'),
    ('The job was not started because recent account payments have failed or your spending limit needs to be increased.', 'billing'),
    ('This request was automatically failed because there were no enabled runners online to process the request for more than 1 days.', 'no-runner'),
    ('##[error]The job running on runner GitHub Actions 5 has exceeded the maximum execution time of 360 minutes.', 'job-timeout'),
    ("##[error]The action 'Run tests' has timed out after 30 minutes.", 'step-timeout'),
    ('Error response from daemon: toomanyrequests: You have reached your pull rate limit.', 'registry-rate-limit'),
    ('##[error]API rate limit exceeded for installation ID 1234.', 'api-rate-limit'),
    ('==31337==ERROR: LeakSanitizer: detected memory leaks', 'sanitizer'),
    ('WARNING: ThreadSanitizer: data race (pid=4242)', 'thread-sanitizer'),
    ('src/bits.c:17:22: runtime error: signed integer overflow: 2147483647 + 1', 'ubsan'),
    ('panic: test timed out after 10m0s', 'go-test-timeout'),
    ('E   Failed: Timeout >300.0s', 'pytest-timeout'),
    ('FATAL ERROR: Ineffective mark-compacts near heap limit Allocation failed - JavaScript heap out of memory', 'node-oom'),
    ('torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB', 'cuda-oom'),
    ('c++: fatal error: Killed signal terminated program cc1plus', 'compiler-killed'),
    ('fatal error: all goroutines are asleep - deadlock!', 'go-fatal'),
    ('Fatal Python error: Aborted', 'fatal-python'),
    ('MemoryError', 'python-oom'),
    ('Segmentation fault (core dumped)', 'segfault'),
    ('signal: killed', 'signal'),
    ('Killed', 'killed'),
    ('##[error]The operation was canceled.', 'canceled'),
    ('warning: unused variable `x`', 'warning'),
    ('npm warn deprecated glob@7.2.3: Glob versions prior to v9 are no longer supported', 'warning'),
    ("ERROR: pip's dependency resolver does not currently take into account all the packages", 'pip-resolver-notice'),
    ('##[error]Process completed with exit code 2.', 'exit-code'),
    ('##[error]Process completed with exit code 137.', 'exit-137'),
    ('make[2]: *** [src/CMakeFiles/core.dir/build.make:76: src/core.o] Error 1', 'make-wrapper'),
    ('ninja: build stopped: subcommand failed.', 'ninja-stopped'),
    ('collect2: error: ld returned 1 exit status', 'link-wrapper'),
    ('error: could not compile `demo` (lib) due to 2 previous errors', 'cargo-wrapper'),
    ('npm ERR! code ELIFECYCLE', 'npm-wrapper'),
    ('error Command failed with exit code 1.', 'yarn-wrapper'),
    (' ELIFECYCLE  Test failed. See above for more details.', 'pnpm-wrapper'),
    ("subprocess.CalledProcessError: Command '['cmake', '--build', '.']' returned non-zero exit status 2.", 'python-wrapper'),
    ('========================= 1 failed, 8 passed in 0.41s ==========================', 'pytest-summary'),
    ('Tests:       1 failed, 37 passed, 38 total', 'test-summary'),
    ('  ✖  1 of 3 failed (33%)                      00:13        3        2        1        -        -  ', 'test-summary'),
    ('✖ failing test (1.234ms)', 'test-cross'),
    ('FAILURE: Build failed with an exception.', 'build-summary'),
    ('FAIL\tgithub.com/acme/calc\t0.004s', 'build-summary'),
    ('[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.2.5:test (default-test) on project shop: There are test failures.', 'maven-goal-wrapper'),
    ('FAILED tests/test_math.py::test_add - assert 3 == 4', 'pytest-failed'),
    ('[gw1] [ 50%] FAILED tests/test_api.py::test_create_user ', 'pytest-failed-id'),
    ('E       assert 3 == 4', 'pytest-error-line'),
    ('tests/test_math.py::test_add FAILED                                       [ 33%]', 'pytest-progress'),
    ('___________________________ ERROR collecting tests/test_client.py ___________________________', 'pytest-header'),
    ('FAIL: test_parse_port (test_config.ConfigTests.test_parse_port)', 'unittest'),
    ('src/app/models.py:42: error: Incompatible return value type (got "str | None", expected "str")  [return-value]', 'mypy'),
    ('  /home/runner/work/a/a/src/x.py:12:5 - error: "foo" is not defined (reportUndefinedVariable)', 'pyright'),
    ('./legacy/util.py:10:80: E501 line too long (88 > 79 characters)', 'python-lint'),
    ('F401 [*] `os` imported but unused', 'ruff-full'),
    ('would reformat /home/runner/work/w/w/src/cli.py', 'formatter'),
    ('flake8...................................................................Failed', 'pre-commit'),
    ('ERROR: No matching distribution found for torch==2.9.9', 'pip-resolve'),
    ('  ╰─▶ Because foo was not found in the package registry and you require foo, we can conclude that your requirements are unsatisfiable.', 'uv-resolve'),
    ("src/api/client.ts(42,7): error TS2322: Type 'string' is not assignable to type 'number'.", 'tsc'),
    ('✘ [ERROR] Could not resolve "./missing"', 'esbuild'),
    ("  12:10  error  'useState' is defined but never used  no-unused-vars", 'eslint'),
    ('  3:14  ✖  Unexpected unknown property "colr"   property-no-unknown', 'stylelint'),
    ('  ● Button › renders with label', 'jest-test'),
    ('  ● Test suite failed to run', 'jest-suite'),
    (' FAIL  src/utils/sum.test.ts > sum > adds two numbers', 'vitest-test'),
    ('FAIL src/components/Button.test.tsx (5.12 s)', 'jest-file'),
    ('  1) [chromium] › tests/login.spec.ts:12:5 › login › shows error ─────', 'playwright'),
    ('Chrome Headless 128.0.6613.137 (Linux x86_64) AppComponent should render title FAILED', 'karma'),
    ('(fail) parser > handles empty input [0.42ms]', 'bun-test'),
    ('npm ERR! 404 Not Found - GET https://registry.npmjs.org/missing - Not found', 'npm-404'),
    ('npm error ERESOLVE unable to resolve dependency tree', 'npm-eresolve'),
    ('npm error code ECONNRESET', 'npm-network'),
    ('npm ERR! Missing script: "test"', 'npm-error'),
    ('➤ YN0028: │ The lockfile would have been modified by this install, which is explicitly forbidden.', 'yarn-berry'),
    (' ERR_PNPM_OUTDATED_LOCKFILE  Cannot install with "frozen-lockfile"', 'pnpm-error'),
    ('    calc_test.go:14: Add(2, 3) = 6; want 5', 'go-test-message'),
    ('--- FAIL: TestAdd (0.00s)', 'go-fail'),
    ('=== FAIL: internal/api TestHandler (0.01s)', 'go-fail'),
    ('internal/api/server.go:88:12: Error return value of `w.Write` is not checked (errcheck)', 'golangci-lint'),
    ('./main.go:23:2: undefined: handler', 'go-build'),
    ('go: updates to go.mod needed; to update it:', 'go-command'),
    ('error[E0308]: mismatched types', 'rustc'),
    ("thread 'main' panicked at src/main.rs:4:5:", 'rust-panic'),
    ('test tests::parses_header ... FAILED', 'cargo-test'),
    ('        FAIL [   0.004s] demo tests::it_works', 'nextest'),
    ("src/parser.c:42:13: error: 'tokn' undeclared (first use in this function)", 'compiler'),
    ('src/Lib.hs:14:7: error: [GHC-88464]', 'ghc'),
    ("D:\\a\\e\\e\\src\\win32.cpp(57,12): error C2065: 'X': undeclared identifier [D:\\a\\e\\e\\build\\e.vcxproj]", 'msvc'),
    ("LINK : fatal error LNK1181: cannot open input file 'missing.lib'", 'msvc-project'),
    ("clang: error: no such file or directory: 'missing.c'", 'tool-error'),
    ('e: file:///home/runner/work/a/a/src/Main.kt:12:5 Unresolved reference: fooBar', 'kotlin'),
    ('[ERROR] /home/runner/work/s/s/src/main/java/Cart.java:[42,17] cannot find symbol', 'maven-compile'),
    ('[error] /home/runner/work/l/l/src/main/scala/Parser.scala:31:7: type mismatch;', 'scala'),
    ("main.cpp:(.text+0x3e): undefined reference to `net::connect()'", 'undefined-reference'),
    ('Undefined symbols for architecture arm64:', 'undefined-symbols'),
    ('CMake Error at CMakeLists.txt:14 (find_package):', 'cmake'),
    ('configure: error: C compiler cannot create executables', 'configure'),
    ("make: *** No rule to make target 'install'.  Stop.", 'make-no-rule'),
    ('FAILED: src/CMakeFiles/core.dir/engine.cpp.o ', 'ninja-failed'),
    ('[  FAILED  ] MathTest.Divide (0 ms)', 'gtest'),
    ('/home/runner/work/m/m/test/math_test.cc:21: Failure', 'gtest-failure'),
    ('/home/runner/work/m/m/test/math.cpp:21: FAILED:', 'catch2'),
    ('\t  1 - math_test (Failed)', 'ctest'),
    ('[ERROR]   CalculatorTest.testDivide:27 expected: <2> but was: <3>', 'surefire-results'),
    ('[ERROR] com.acme.shop.CalculatorTest.testDivide -- Time elapsed: 0.011 s <<< FAILURE!', 'surefire-test'),
    ('CartTest > addsItems() FAILED', 'gradle-test'),
    ('> Task :app:test FAILED', 'gradle-task'),
    ('[info] - should add numbers *** FAILED ***', 'sbt-test'),
    ('  Failed Api.Tests.OrderTests.Total_IncludesTax [23 ms]', 'dotnet-test'),
    ('Unhandled exception. System.InvalidOperationException: Sequence contains no elements', 'dotnet-unhandled'),
    ('     Failure/Error: expect(user.full_name).to eq("Ada Lovelace")', 'rspec-failure'),
    ('rspec ./spec/models/user_spec.rb:7 # User#full_name returns first and last name', 'rspec-rerun'),
    ('UserTest#test_full_name [test/models/user_test.rb:9]:', 'minitest'),
    ("/home/runner/work/a/a/app/x.rb:12:in 'full_name': undefined method 'upcase' for nil (NoMethodError)", 'ruby-exception'),
    ('app/models/user.rb:12:5: C: [Correctable] Layout/IndentationWidth: Use 2 (not 4) spaces.', 'rubocop'),
    ('An error occurred while installing nokogiri (1.16.7), and Bundler cannot continue.', 'bundler'),
    ('1) Tests\\Unit\\PriceTest::testDiscount', 'phpunit-test'),
    ('Failed asserting that 90.0 matches expected 85.0.', 'phpunit-assert'),
    ('PHP Parse error:  syntax error, unexpected token "}" in /app/src/Kernel.php on line 41', 'php-fatal'),
    ('  1) test greets the world (HelloTest)', 'exunit-test'),
    ('** (CompileError) lib/hello.ex:5: undefined function bar/0', 'elixir-raise'),
    ('00:02 +3 -1: Counter increments [E]', 'dart-test'),
    ('not ok 3 install script creates config dir', 'tap'),
    ('── Failure (test-add.R:12:3): add() adds numbers ──────────────────────────────', 'testthat'),
    ("Error in library(foo) : there is no package called 'foo'", 'r-error'),
    ('Test Failed at /home/runner/work/Pkg.jl/Pkg.jl/test/runtests.jl:12', 'julia-test'),
    ("#   Failed test 'parses the header'", 'perl-test'),
    ('FAIL in (test-add) (core_test.clj:7)', 'clojure-test'),
    ("❌ /Users/runner/work/app/app/Sources/App/View.swift:12:5: cannot find 'y' in scope", 'cross-mark'),
    ('[!] CocoaPods could not find compatible versions for pod "Firebase/Core":', 'bang-error'),
    ('> The following files had format violations:', 'gradle-cause'),
    ('/home/runner/work/k/k/Tests/KitTests/ParserTests.swift:18: error: ParserTests.testParse : XCTAssertEqual failed', 'xctest'),
    ('ERROR: failed to solve: process "/bin/sh -c npm ci" did not complete successfully: exit code: 1', 'docker-solve'),
    (' => ERROR [builder 3/7] RUN npm ci                                          12.3s', 'docker-step'),
    ('E: Unable to locate package libfoo-dev', 'apt-missing'),
    ('/home/runner/work/_temp/x.sh: line 1: poetry: command not found', 'command-not-found'),
    ("poetry : The term 'poetry' is not recognized as a name of a cmdlet, function, script file, or executable program.", 'command-not-found'),
    ('fatal: [localhost]: FAILED! => {"changed": false, "msg": "No package matching \'nginx\'"}', 'ansible'),
    ('CONFLICT (content): Merge conflict in src/app.py', 'git-conflict'),
    ("fatal: could not read Username for 'https://github.com': terminal prompts disabled", 'git-fatal'),
    ('##[error]Resource not accessible by integration', 'github-api'),
    ('│ Error: Reference to undeclared resource', 'terraform'),
    ("cp: cannot stat 'dist/app.js': No such file or directory", 'no-such-file'),
    ("ModuleNotFoundError: No module named 'httpx'", 'exception'),
    ("Error: Cannot find module 'express'", 'exception'),
    ("django.urls.exceptions.NoReverseMatch: Reverse for 'checkout' not found.", 'exception'),
    ('Caused by: java.net.ConnectException: Connection refused', 'caused-by'),
    ("    TypeError: Cannot read properties of undefined (reading 'map')", 'exception-nested'),
    ('error: externally-managed-environment', 'error-colon'),
    ('ERROR: Job failed: exit code 1', 'error-caps'),
    ('##[error]Something the action decided', 'gha-error'),
]
# fmt: on


@pytest.mark.parametrize("line, name", SHAPES, ids=[name for _, name in SHAPES])
def test_each_shape_is_claimed_by_its_rule(line, name):
    rule = rule_for(line)
    if BY_NAME[name].priority == 0:  # noise only pre-empts: the scan may not even look
        assert rule is None or rule.name == name
    else:
        assert rule is not None and rule.name == name


# fmt: off
CONFUSERS = [
    'tests/test_errors.py::test_error_handling_returns_400 PASSED                 [ 11%]',
    '  ✓ formats Error: messages (3 ms)',
    '--- PASS: TestErrorPaths (0.00s)',
    '/usr/bin/cc -Wall -Werror -O2 -c -o src/main.o src/main.c',
    'Found 0 errors in 12 files',
    '  error: false',
    'errors: 0',
    "src/parser.c:38:9: warning: unused variable 'n' [-Wunused-variable]",
    'src/parser.c:42:13: note: each undeclared identifier is reported only once',
    '(node:2211) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.',
    'DeprecationWarning: pkg_resources is deprecated as an API',
    'test test_error_codes ... ok',
    'ok  \tgithub.com/acme/calc/errors\t0.011s',
    'Successfully installed error-reporter-1.2.0',
    '[INFO] Tests run: 4, Failures: 0, Errors: 0, Skipped: 0',
]
# fmt: on


@pytest.mark.parametrize("line", CONFUSERS)
def test_confusers_are_not_failures(line):
    rule = rule_for(line)
    assert rule is None or rule.priority == 0, rule.name
