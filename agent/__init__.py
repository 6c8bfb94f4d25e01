"""Pawprint's agent: serves the akita-django middleware protocol, heartbeats, long-polls, obfuscates, spools, uploads.

Plain Python (stdlib plus `apimodel`), no Django import: `pawprint-agent --help`.
"""

__version__ = "0.2.0"
