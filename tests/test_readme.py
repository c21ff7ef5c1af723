"""The README's commands as a new user types them."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def first_command():
    """The README's first command without its setup step: the inpaint after ``&&``, as argv."""
    block = re.search(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S).group(1)
    setup, command = block.splitlines()[0].split(" && ", 1)
    assert setup == "bash scripts/setup.sh"
    argv = shlex.split(command)
    assert argv[:4] == [".venv/bin/python", "-m", "edge_app", "inpaint"], argv
    return argv


@pytest.mark.slow
def test_the_readmes_first_command_works_every_time(tmp_path):
    """Run twice (the output under a fresh temporary folder, every other path
    the README's): both runs succeed and write the same file."""
    argv = first_command()
    argv[0] = sys.executable
    out = tmp_path / "out" / "bridge_inpainted.jpg"
    argv[argv.index("-o") + 1] = str(out)
    written = []
    for _ in range(2):
        run = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("wrote {} ".format(out)), run.stdout
        written.append(out.read_bytes())
    assert written[0] == written[1]
