"""The command line built from the config: one flag per AppConfig field, each
command with exactly the flags it uses, values checked once by AppConfig.check."""
import argparse
import re
from dataclasses import fields
from pathlib import Path

import pytest

from edge_app import AppConfig, bench
from edge_app.cli import build_parser
from edge_app.errors import ConfigError
from edge_app.options import BY_FIELD, COMMANDS, EVERYDAY, NOT_FLAGS, TABLE, add_options, parse

#: Positional arguments and required options of each command, for parsing.
REQUIRED = {"inpaint": ["inpaint", "a.png", "m.png", "-o", "o.png"],
            "stream": ["stream", "--source", "0", "--mask", "m.png", "-o", "o.mp4"],
            "serve": ["serve"],
            "bench": ["bench", "--out", "r.json"]}
#: The flags of the model and its processing: inpaint's, and bench's the same.
MODEL_GROUPS = ("model", "masks", "processing")


def flags_of(command):
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    return {option for action in sub._actions for option in action.option_strings}


def test_every_field_has_one_flag():
    names = [f.name for f in fields(AppConfig)]
    assert sorted(f.field for f in TABLE) == sorted(set(names) - set(NOT_FLAGS))
    assert len({f.name for f in TABLE}) == len(TABLE)
    for old in ("--mask-convention", "--roi", "--feather", "--thin-width", "--no-cra", "--overwrite", "--backend",
                "--cra-matmul"):  # the flags from before the table
        assert any(f.name == old for f in TABLE), old


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_lists_exactly_the_flags_it_uses(command):
    listed = flags_of(command)
    for flag in TABLE:
        assert (flag.name in listed) == (command in flag.commands), (command, flag.name)
    assert ("--timings" in listed) == (command != "bench")
    assert "--model" in listed


def test_serve_help_says_what_its_options_do(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--jpeg-quality" not in text and "--stream-queue" not in text
    assert "replace an existing output file" not in text and "print the seconds spent" not in text
    assert "replace a --mask file that existed before the server started" in text
    assert "log each inpaint request's stage timings" in text


def test_bench_takes_the_model_options_of_inpaint():
    model = [f for f in TABLE if f.group in MODEL_GROUPS]
    assert model and all({"inpaint", "bench"} <= set(f.commands) for f in model)
    argv = ["--roi", "on", "--feather", "5", "--no-cra", "--thin-width", "0", "--min-known", "0.8"]
    for command in ("inpaint", "bench"):
        config = parse(build_parser(), REQUIRED[command] + argv).config
        assert (config.roi, config.blend_feather, config.cra, config.thin_width, config.min_known) == \
            ("on", 5, False, 0, 0.8), command


@pytest.mark.parametrize("command", COMMANDS)
def test_defaults_are_the_configs(command):
    args = parse(build_parser(), REQUIRED[command])
    assert args.config == AppConfig() and args.model is None


def test_each_flag_sets_its_field():
    """A value off the default for every flag of every command reaches that field."""
    samples = {str: {"backend": "onnxruntime", "cra_matmul_model": "p.om", "mask_convention": "keep-white",
                     "alpha_convention": "opaque-hole",
                     "roi": "off", "stream_fourcc": "FFV1", "fill": "network"}}
    for command in COMMANDS:
        for flag in TABLE:
            if command not in flag.commands:
                continue
            default = getattr(AppConfig(), flag.field)
            if isinstance(default, bool):
                argv, value = [flag.name], not default
            elif isinstance(default, str):
                value = samples[str][flag.field]
                argv = [flag.name, value]
            else:  # fractions halved, the rest one more
                value = default / 2 if isinstance(default, float) and default <= 1 else default + 1
                argv = [flag.name, str(value)]
            if flag.field in CELL_CRA:
                argv += ["--fill", "network"]
            config = parse(build_parser(), REQUIRED[command] + argv).config
            assert getattr(config, flag.field) == value, (command, flag.name)


#: Settings of cell CRA (--fill network) only.
CELL_CRA = ("attention_power", "cra_matmul_model")


@pytest.mark.parametrize("argv, words", [
    (["--detail", "3"], "argument --detail: sharpens the attention rows of cell CRA: it needs fill 'network' "
                        "(--fill network)"),
    (["--cra-matmul", "p.om"], "argument --cra-matmul: runs the product of cell CRA on the AI core"),
    (["--feather", "-1"], "argument --feather: must be >= 0"),
    (["--cra-threads", "-2"], "argument --cra-threads: must be >= 0"),
    (["--min-known", "1.5"], "argument --min-known: must be in (0, 1]"),
    (["--mask-threshold", "255"], "argument --mask-threshold: must be in 0..254"),
    (["--jpeg-quality", "101"], "argument --jpeg-quality: must be in 0..100"),
])
def test_a_value_out_of_range_is_a_usage_error_naming_the_flag(argv, words, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(build_parser(), REQUIRED["inpaint"] + argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and words in err and "usage: python -m edge_app inpaint" in err


def test_the_config_checks_every_range_once():
    for field, bad in [("blend_feather", -1), ("roi_growth", 0.5), ("thin_radius", 0), ("stream_fourcc", "mp4"),
                       ("serve_keep_bytes", 0), ("inverted_mask_fraction", 0.0), ("mask_convention", "guess")]:
        with pytest.raises(ConfigError) as exc:
            AppConfig().with_options(**{field: bad})
        assert exc.value.field == field and str(exc.value).startswith(field + ": ")
    AppConfig().check()


def test_standalone_bench_parses_the_same_flags(tmp_path):
    parser = argparse.ArgumentParser()
    from edge_app.bench.cli import _add_arguments
    _add_arguments(parser)
    args = parse(parser, ["--out", str(tmp_path / "r.json"), "--roi", "on", "--no-cra"])
    assert (args.config.roi, args.config.cra) == ("on", False)
    assert BY_FIELD["blend_feather"].name == "--feather"


def test_add_options_sets_the_parser_for_usage_errors():
    parser = argparse.ArgumentParser(prog="x")
    add_options(parser, "serve")
    assert parser.parse_args([]).parser is parser


def help_of(command, flag="--help"):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([command, flag])
    assert exc.value.code == 0
    return exc


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_the_everyday_options_and_help_all_the_tuning_ones(command, capsys):
    """--help was about 100 lines with some 30 tuning flags in one list: now it
    lists the command's own arguments and the everyday options (EVERYDAY,
    --model, --timings), and --help-all adds every tuning flag, by topic."""
    help_of(command)
    short = capsys.readouterr().out
    help_of(command, "--help-all")
    full = capsys.readouterr().out
    own = [f for f in TABLE if command in f.commands]
    everyday = [f.name for f in own if f.field in EVERYDAY]
    tuning = [f.name for f in own if f.field not in EVERYDAY]
    assert "--backend" in everyday and "--overwrite" in everyday and len(tuning) >= 15
    def listed(name, text):  # an option's own line, not a mention in another's help
        return re.search(r"^  {}\b".format(re.escape(name)), text, re.M) is not None
    assert all(listed(name, short) for name in everyday + ["--model", "--help-all"])
    assert [name for name in tuning if listed(name, short)] == []
    assert "show the {} tuning options too".format(len(tuning)) in short
    assert all(listed(name, full) for name in everyday + tuning)
    assert "common options:" in full and "tuning: processing:" in full
    assert len(short.splitlines()) < 75 < len(full.splitlines())


def test_a_flag_added_later_is_a_tuning_option():
    """EVERYDAY names fields: any other flag, one added to the table later too, goes behind --help-all."""
    parser = argparse.ArgumentParser(prog="x")
    add_options(parser, "inpaint")
    hidden = {option for action in parser._actions if action.help == argparse.SUPPRESS
              for option in action.option_strings}
    assert hidden == {f.name for f in TABLE if "inpaint" in f.commands and f.field not in EVERYDAY}


def test_every_flag_is_described_in_the_app_readme():
    """The full list stays documented: every flag of the table in edge_app/README.md's options table."""
    text = (Path(__file__).resolve().parents[1] / "edge_app" / "README.md").read_text(encoding="utf-8")
    table = text[text.index("### Options"):]
    missing = [f.name for f in TABLE if "`{}".format(f.name) not in table]
    assert missing == []
