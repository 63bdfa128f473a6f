"""A cheap client for bench/push.py: Debian's `wrk` replaying pre-signed requests with
bench/replay.lua. Its one event-loop thread, in C, sends each request once over N keep-alive
connections; Python's client threads cost 0.22 ms of CPU per delivery, which the server then
lacks on a 2-core machine, where wrk costs a few hundredths of that."""

import resource
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "replay.lua"


class WrkMissing(RuntimeError):
    """wrk is not installed (Debian: apt-get install wrk)."""


@dataclass
class Replay:
    """What wrk saw: per-status and per-outcome counts, latency percentiles (ms), the time from
    the first request to the last answer, socket errors, and wrk's own CPU seconds."""

    sent: int
    answered: int
    elapsed: float
    percentiles: dict
    statuses: dict = field(default_factory=dict)
    outcomes: dict = field(default_factory=dict)
    socket_errors: dict = field(default_factory=dict)
    cpu: float = 0.0

    @property
    def rate(self):
        return self.answered / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def errors(self):
        """Answers outside 2xx, and requests lost to socket errors or timeouts."""
        bad = sum(n for status, n in self.statuses.items() if not 200 <= status < 300)
        return bad + sum(self.socket_errors.values())


def write_requests(requests, directory):
    """The files replay.lua reads: (requests back to back, their lengths one a line)."""
    data, index = Path(directory) / "requests.bin", Path(directory) / "requests.idx"
    with open(data, "wb") as out:
        for request in requests:
            out.write(request)
    index.write_text("".join(f"{len(r)}\n" for r in requests))
    return data, index


def replay(port, files, connections, timeout=600, rate=None):
    """Send every request of `files` (write_requests) once, at `rate` a second when given
    (else as fast as the server answers); returns a Replay."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise WrkMissing("wrk is not installed: apt-get install -y wrk")
    data, index = files
    command = [wrk, "-t1", f"-c{connections}", f"-d{timeout}s", "--timeout", "30s"]
    command += ["-s", str(SCRIPT), f"http://127.0.0.1:{port}/", "--", str(data), str(index)]
    command += [str(rate)] if rate else []
    before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 60)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}:\n{done.stderr}{done.stdout}")
    result = parse(done.stdout)
    result.cpu = _children_cpu() - before
    if result.elapsed <= 0:  # the last answer never came (lost requests): wrk's own time
        result.elapsed = wall
    return result


def parse(output):
    values, statuses, outcomes, errors, percentiles = {}, {}, {}, {}, {}
    for line in output.splitlines():
        if not line.startswith("REPLAY "):
            continue
        words = line.split(" ")
        if words[1] == "statuses":
            statuses[int(words[2])] = int(words[3])
        elif words[1] == "outcomes":
            outcomes[" ".join(words[2:-1])] = int(words[-1])
        elif words[1].startswith("error_"):
            errors[words[1][len("error_") :]] = int(words[2])
        elif words[1].startswith("p") or words[1] == "max":
            percentiles[words[1]] = int(words[2]) / 1000  # microseconds to ms
        else:
            values[words[1]] = float(words[2])
    if "answered" not in values:
        raise RuntimeError(f"wrk printed no results:\n{output}")
    return Replay(
        sent=int(values["sent"]),
        answered=int(values["answered"]),
        elapsed=values["elapsed"],
        percentiles=percentiles,
        statuses=statuses,
        outcomes=outcomes,
        socket_errors={k: v for k, v in errors.items() if v},
    )


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
