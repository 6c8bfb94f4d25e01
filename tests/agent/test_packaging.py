"""`pip install ./packaging/agent` and `pip install ./packaging/django` in fresh venvs, without the control plane."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def venv_with(tmp_path: Path, name: str, package: str) -> Path:
    venv = tmp_path / name
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, str(ROOT / "packaging" / package)], check=True, cwd=tmp_path)
    return venv


def run(venv: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """A command of the venv, from outside the repository, so only what pip installed can be imported."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    binary = str(venv / "bin" / command[0])
    return subprocess.run([binary, *command[1:]], cwd=venv, env=env, capture_output=True, text=True)


def test_the_agent_installs_on_its_own_without_django(tmp_path: Path) -> None:
    venv = venv_with(tmp_path, "agent", "agent")
    helped = run(venv, "pawprint-agent", "--help")
    assert helped.returncode == 0 and "--spool-dir" in helped.stdout and "AKITA_API_KEY_ID" in helped.stdout
    assert run(venv, "pawprint-agent", "--version").stdout.strip() == "pawprint-agent 0.2.0"
    assert run(venv, "python", "-c", "import apimodel.witness, agent.daemon").returncode == 0
    assert "No module named 'django'" in run(venv, "python", "-c", "import django").stderr


def test_the_middleware_installs_on_its_own_and_brings_the_agent(tmp_path: Path) -> None:
    venv = venv_with(tmp_path, "django", "django")
    imported = run(venv, "python", "-c", "import pawprint_django.middleware, pawprint_django.link")
    assert imported.returncode == 0, imported.stderr
    assert run(venv, "pawprint-agent", "--version").returncode == 0  # the agent to run beside the app
    for server_side in ("controlplane", "traces", "daemons", "projects"):
        assert f"No module named '{server_side}'" in run(venv, "python", "-c", f"import {server_side}").stderr
