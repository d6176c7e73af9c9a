"""b2release: release toolchain for the B2Connect enventa Trade ERP connector."""

__version__ = "0.1.0"
