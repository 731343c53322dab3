"""Fault scenarios of issue 9 (services failing under load): see run.py and docs/faults.md."""
