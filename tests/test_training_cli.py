"""`python -m training --help` and each subcommand's --help."""
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from training.__main__ import build_parser, main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # starts a process
def test_module_help_lists_both_subcommands():
    out = subprocess.run([sys.executable, "-m", "training", "--help"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    assert "train" in out and "evaluate" in out


@pytest.mark.parametrize("command,flags", [
    ("train", ["--data", "--out", "--size", "--batch", "--iters", "--device", "--amp", "--resume", "--d-steps",
               "--adv-weight", "--lr", "--save-every", "--val-data", "--config", "--init", "--threads"]),
    ("evaluate", ["--checkpoint", "--baseline", "--data", "--size", "--count", "--seed", "--json"]),
])
def test_subcommand_help_explains_flags(command, flags, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in flags:
        assert flag in out, flag


def test_missing_subcommand_is_an_error():
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([])
    assert exc.value.code == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no CUDA device" in err[0]
    assert not (tmp_path / "r").exists()
