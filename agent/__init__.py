"""Pawprint's reference daemon: heartbeat, long-poll, capture, obfuscate, upload.

Plain Python (stdlib plus `apimodel`), no Django import: `python -m agent --help`.
"""

__version__ = "0.1.0"
