"""ATC script / AIPP config writer, the SoC table and SoC detection."""
from __future__ import annotations

import os
import stat
import subprocess

import onnx
import pytest
from onnx import helper

from convert.__main__ import main
from convert.atc import AtcJob, aipp_config, aipp_size, convert_script, write_job
from convert.socs import SOC_TABLE, SOCS, detect_soc, soc_target
from convert_graphs import make_model, tensor

# Registered as a plugin so the session fixture `exported` is built once for all modules.
pytest_plugins = ["convert_fixtures"]

NPU_SMI_310 = """\
+------------------------------------------------------------------------------------+
| npu-smi 20.2.0                   Version: 20.2.0                                   |
+----------------------+---------------+---------------------------------------------+
| NPU   Name           | Health        | Power(W)   Temp(C)                          |
| Chip  Device         | Bus-Id        | AICore(%)  Memory-Usage(MB)                 |
+======================+===============+=============================================+
| 0     310            | OK            | 12.8       45                               |
| 0     0              | NA            | 0          2621 / 8192                      |
+======================+===============+=============================================+
"""

NPU_SMI_310B4 = """\
+--------------------------------------------------------------------------------------------------------+
| npu-smi 23.0.rc3                                 Version: 23.0.rc3                                     |
+-------------------------------+-----------------+------------------------------------------------------+
| NPU     Name                  | Health          | Power(W)     Temp(C)           Hugepages-Usage(page) |
| Chip    Device                | Bus-Id          | AICore(%)    Memory-Usage(MB)                        |
+===============================+=================+======================================================+
| 0       310B4                 | Alarm           | 0.0          51                15    / 15            |
| 0       0                     | NA              | 0            1988 / 7545                             |
+===============================+=================+======================================================+
"""

IMG_MASK_SHAPE = "img:1,512,512,3;mask:1,512,512,1"


@pytest.mark.parametrize("text, soc", [
    ("Ascend310", "Ascend310"), ("ascend310b1", "Ascend310B1"), ("310B4", "Ascend310B4"),
    (NPU_SMI_310, "Ascend310"), (NPU_SMI_310B4, "Ascend310B4"),
])
def test_detect_soc(text, soc):
    assert detect_soc(text) == soc


def test_detect_soc_from_file(tmp_path):
    path = tmp_path / "npu-smi.txt"
    path.write_text(NPU_SMI_310B4)
    assert detect_soc(f"@{path}") == "Ascend310B4"


@pytest.mark.parametrize("text", ["Ascend910", "310P3", "Ascend310B2", "| 0     910B    | OK |", ""])
def test_unknown_soc_lists_accepted(text):
    with pytest.raises(ValueError) as err:
        detect_soc(text)
    assert all(s in str(err.value) for s in SOCS)
    assert "\n" not in str(err.value)


def test_soc_table_names():
    assert SOCS == ("Ascend310", "Ascend310B1", "Ascend310B4")
    for target in SOC_TABLE:
        assert target.name == "Ascend" + target.chip and target.boards
        assert detect_soc(target.chip) == target.name  # the npu-smi chip name maps back to its entry
    with pytest.raises(ValueError, match="Ascend310, Ascend310B1, Ascend310B4"):
        soc_target("ascend310")  # the table's names are exact


def _script_lines(text):
    return [line.strip() for line in text.splitlines()]


@pytest.mark.parametrize("soc", SOCS)
def test_script_per_soc(tmp_path, soc):
    target = soc_target(soc)
    text = convert_script(_job(tmp_path, soc=soc))
    lines = _script_lines(text)
    assert f"--soc_version={soc} \\" in lines  # exactly this SoC, not a prefix of another
    assert [l for l in lines if l.startswith("--soc_version=")] == [f"--soc_version={soc} \\"]
    assert f"for {soc} (" in lines[1] and ", ".join(target.boards) in lines[1]
    exports = [l for l in lines if l.startswith("export ")]
    if soc.startswith("Ascend310B"):
        # The 310B boards convert on the board: ATC's compilers limited, unless the caller set them.
        assert exports == ['export TE_PARALLEL_COMPILER="${TE_PARALLEL_COMPILER:-1}"',
                           'export MAX_COMPILE_CORE_NUMBER="${MAX_COMPILE_CORE_NUMBER:-1}"']
        assert "operator package" in target.failure_hint
    else:
        assert exports == []
        assert "8.3" in target.failure_hint
    assert target.failure_hint in text


def _job(tmp_path, soc="Ascend310", **kw) -> AtcJob:
    return AtcJob(model=str(tmp_path / "hifill.onnx"), out_dir=str(tmp_path / "om"), soc=soc,
                  input_shape=IMG_MASK_SHAPE, **kw)


@pytest.mark.slow  # starts a process
def test_convert_script_has_full_command(tmp_path):
    text = convert_script(_job(tmp_path))
    for flag in ('--model="$MODEL"', "--framework=5", '--output="$HERE/hifill"', "--soc_version=Ascend310",
                 f'--input_shape="{IMG_MASK_SHAPE}"', "--input_format=NCHW", "--precision_mode=force_fp16",
                 "--output_type=FP32", "--log=error"):
        assert flag in text
    assert "--insert_op_conf" not in text
    assert 'MODEL="${1:-$HERE/../hifill.onnx}"' in text
    for soc in SOCS:
        script = convert_script(_job(tmp_path, soc=soc))
        assert subprocess.run(["bash", "-n"], input=script.encode(), check=False).returncode == 0, soc  # valid shell


def test_aipp_config_and_flag(tmp_path):
    job = _job(tmp_path, aipp_size=(512, 512), precision="allow_fp32_to_fp16")
    script = write_job(job)
    assert os.stat(script).st_mode & stat.S_IXUSR
    text = script.read_text()
    assert '--insert_op_conf="$HERE/aipp.cfg"' in text and "--precision_mode=allow_fp32_to_fp16" in text
    cfg = (script.parent / "aipp.cfg").read_text()
    assert cfg == aipp_config((512, 512))
    lines = {line.split(":")[0].strip(): line.split(":")[1].strip() for line in cfg.splitlines() if ":" in line}
    assert lines["aipp_mode"] == "static" and lines["related_input_rank"] == "0"
    assert lines["input_format"] == "RGB888_U8" and lines["csc_switch"] == "false"
    assert lines["src_image_size_w"] == lines["src_image_size_h"] == "512"
    assert all(lines[f"min_chn_{c}"] == "0" and lines[f"var_reci_chn_{c}"] == "1.0" for c in range(3))
    assert not any(k.startswith("mean_chn") for k in lines)


def test_unknown_precision_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="force_fp16"):
        convert_script(_job(tmp_path, precision="fp8"))


def test_aipp_needs_nchw_image_input():
    nchw = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1, 3, 64, 96])], [tensor("y", [1, 3, 64, 96])])
    assert aipp_size(nchw) == (96, 64)
    nhwc = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1, 64, 96, 3])], [tensor("y", [1, 64, 96, 3])])
    with pytest.raises(ValueError, match="NCHW"):
        aipp_size(nhwc)


@pytest.mark.slow  # exports the 512 model
def test_cli_writes_script_for_exported_model(exported, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no atc here
    out = tmp_path / "om"
    assert main(["atc", str(exported.path), "--soc", NPU_SMI_310B4, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "atc is not on PATH" in printed and "convert.sh" in printed
    text = (out / "convert.sh").read_text()
    assert f'--input_shape="{IMG_MASK_SHAPE}"' in text and "--soc_version=Ascend310B4" in text
    assert not (out / "aipp.cfg").exists()
    assert main(["atc", str(exported.path), "--out", str(tmp_path / "om2"), "--aipp"]) == 2
    assert "AIPP needs" in capsys.readouterr().err


def _tiny_model(tmp_path):
    model = make_model([helper.make_node("Relu", ["x"], ["y"])], [tensor("x", [1, 3, 32, 32])], [tensor("y", [1, 3, 32, 32])])
    path = tmp_path / "tiny.onnx"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("soc", SOCS)
def test_cli_writes_script_for_each_soc(tmp_path, capsys, monkeypatch, soc):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no atc here: the script is written, not run
    out = tmp_path / "om"
    assert main(["atc", str(_tiny_model(tmp_path)), "--soc", soc, "--out", str(out)]) == 0
    assert "atc is not on PATH" in capsys.readouterr().out
    assert f"--soc_version={soc} \\" in _script_lines((out / "convert.sh").read_text())


def test_cli_refuses_an_unknown_soc_in_one_line(tmp_path, capsys):
    out = tmp_path / "om"
    assert main(["atc", str(_tiny_model(tmp_path)), "--soc", "Ascend910B", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert all(soc in err for soc in SOCS)
    assert not out.exists()  # refused before anything is written


def _fake_atc(tmp_path, monkeypatch, body):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "atc"
    fake.write_text("#!/usr/bin/env bash\n" + body)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.slow  # starts a process
@pytest.mark.parametrize("soc", SOCS)
def test_script_environment_and_failure_hint(tmp_path, monkeypatch, soc):
    log = tmp_path / "atc_env.txt"
    _fake_atc(tmp_path, monkeypatch, f'echo "$TE_PARALLEL_COMPILER/$MAX_COMPILE_CORE_NUMBER" > {log}\nexit 3\n')
    monkeypatch.delenv("TE_PARALLEL_COMPILER", raising=False)
    monkeypatch.setenv("MAX_COMPILE_CORE_NUMBER", "4")  # set by the caller: kept
    script = write_job(_job(tmp_path, soc=soc))
    proc = subprocess.run(["bash", str(script), str(tmp_path / "hifill.onnx")], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, check=False)
    assert proc.returncode == 3  # atc's own status
    assert f"atc failed (exit 3); {soc_target(soc).failure_hint}" in proc.stderr
    assert "wrote" not in proc.stdout
    assert log.read_text().strip() == ("1/4" if soc.startswith("Ascend310B") else "/4")


@pytest.mark.slow  # starts a process
def test_cli_runs_script_when_atc_exists(tmp_path, capsys, monkeypatch):
    log = tmp_path / "atc_args.txt"
    _fake_atc(tmp_path, monkeypatch, f'printf "%s\\n" "$@" > {log}\n')
    path = _tiny_model(tmp_path)
    assert main(["atc", str(path), "--soc", "Ascend310", "--out", str(tmp_path / "om"), "--aipp"]) == 0
    args = log.read_text().splitlines()
    assert f"--model={path}" in args and "--framework=5" in args
    assert f"--output={tmp_path / 'om' / 'tiny'}" in args
    assert f"--insert_op_conf={tmp_path / 'om' / 'aipp.cfg'}" in args
    assert "exit code 0" in capsys.readouterr().out
    assert all(a.startswith("--") for a in args)
