"""Failure diagnosis: picking the line, classifying the failure, the diagnosis queue."""
