"""Failure diagnosis: the line of a job's log (or annotations) that explains why it failed."""

from .extract import Finding, best, diagnose_annotations, diagnose_file, diagnose_lines, signature
from .logs import read_log

__all__ = [
    "Finding",
    "best",
    "diagnose_annotations",
    "diagnose_file",
    "diagnose_lines",
    "read_log",
    "signature",
]
