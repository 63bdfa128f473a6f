"""The reconciliation poller: make the stored PRs, runs and jobs converge to GitHub's.

poller runs the cycles under a lease; targets says which repositories; reconcile reads one
repository from GitHub; tracking is the poller's SQL; redeliver asks GitHub for missed
deliveries; etags keeps GitHub's answers for conditional requests.
"""

from prmonitor.poll.etags import EtagStore
from prmonitor.poll.poller import Poller
from prmonitor.poll.reconcile import Reconciler
from prmonitor.poll.redeliver import Recovery
from prmonitor.poll.targets import Target, installation_for

__all__ = ["EtagStore", "Poller", "Reconciler", "Recovery", "Target", "installation_for"]
