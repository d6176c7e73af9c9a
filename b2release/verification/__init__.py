"""Verification of releases: package.py (offline, a zip or a release folder), remote.py
(`verify --remote`: download, then the same checks plus the pointer rules) and
last_seen.py (the pointers a client accepted so far)."""
