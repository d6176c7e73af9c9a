"""The scan stage's parts: inventory, advisories, matching, licences, secrets, outputs.

Each module has one job; `b2release.stages.scan` wires them together. Nothing here
imports requests or cyclonedx at module level (the CLI's --help must stay fast).
"""
