"""The venv for the unmodified akita-django (it needs pydantic 1): `var/venvs/akita-<hash of its requirements>`.

`make demo` and the end-to-end tests share it; `python -m demo.akita_venv` creates it if need be and prints its path.
"""

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = Path(__file__).with_name("requirements-akita.txt")


def akita_venv(venvs: Path = ROOT / "var" / "venvs") -> Path:
    """The venv's folder, created and installed on first use (about 15 s)."""
    venv = venvs / f"akita-{hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]}"
    venvs.mkdir(parents=True, exist_ok=True)
    with (venvs / ".lock").open("wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a test run and `make demo` may ask at the same time
        if not (venv / ".installed").exists():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True)
            (venv / ".installed").touch()
    return venv


if __name__ == "__main__":
    print(akita_venv())
