"""`prmonitor show`: a pull request's runs, jobs and failures as text."""

from prmonitor.storage import queries


def print_pr(pr):
    """A PR's summary, its runs (latest attempts) and its failed jobs, as text."""
    summary = queries.workflow_summary(pr.id)
    print(f"{pr.repo_full_name}#{pr.pr_number} {pr.title or ''}".rstrip())
    print(f"state: {pr.state or 'unknown'}  head: {(pr.head_sha or '')[:12]}  {pr.html_url or ''}")
    w, j = summary["workflows"], summary["jobs"]
    print(
        f"workflows: {w['total_workflows']} ({w['failed_workflows']} failed, "
        f"{w['in_progress_workflows']} in progress)  jobs: {j['total_jobs']} "
        f"({j['failed_jobs']} failed, {j['in_progress_jobs']} in progress)"
    )
    print()
    for wf in queries.workflows_for_pr(pr.id):
        verdict = wf["conclusion"] or wf["status"] or "?"
        print(
            f"  {verdict:<12} {wf['workflow_name'] or '?'} #{wf['run_number'] or '?'}"
            f" attempt {wf['run_attempt']}: {wf['job_count']} jobs, {wf['failed_job_count']}"
            f" failed, {wf['successful_job_count']} passed, {wf['in_progress_job_count']} running"
        )
    failed = queries.failed_jobs_for_pr(pr.id)
    if failed:
        print("\nfailed jobs:")
    for job in failed:
        print(f"  {job['workflow_name']} / {job['job_name']}")
        print(f"    failed steps: {job['failed_steps']}")
        print_failure(job)
        print_analysis(job.get("analysis"))
        print(f"    logs: {job['html_url']}")


def print_analysis(analysis):
    """The AI's verdict on a failure, once there is one."""
    if not analysis or analysis["state"] != "done":
        return
    sure = "" if analysis["confidence"] is None else f"{analysis['confidence']:.0%}, "
    said = _printable(analysis["explanation"] or "")
    print(f"    AI: {analysis['verdict']} ({sure}{analysis['model']}): {said}".rstrip())
    if analysis.get("reason"):
        print(f"    AI note: {_printable(analysis['reason'])}")


def _printable(text):
    """The model's words on one line without control characters (no terminal escapes)."""
    return "".join(c if c.isprintable() else " " for c in text)


def print_failure(job):
    """A failed job's line (the log's, or the failed step's until it is diagnosed) and its
    class with the evidence's reason and first link."""
    if job["error_message"]:
        print(f"    line: {job['error_message']}")
    if not job["failure_class"]:
        print("    class: not diagnosed yet")
        return
    found = job["evidence"] or {}
    reason = f" ({found['reason']})" if found.get("reason") else ""
    print(f"    class: {job['failure_class']}{reason}")
    link = evidence_link(found)
    if link:
        print(f"    evidence: {link}")


def evidence_link(found):
    """The first link of an evidence object: the passing job, the base run's job, the other
    PR; None when it has none."""
    if found.get("passed"):
        return found["passed"].get("html_url")
    for key in ("runs", "prs"):
        if found.get(key):
            return found[key][0].get("html_url")
    return None
