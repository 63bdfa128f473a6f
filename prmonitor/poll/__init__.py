"""The reconciliation poller: make the stored PRs, runs and jobs converge to GitHub's."""
