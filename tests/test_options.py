"""The command line built from the config: one flag per AppConfig field, each
command with exactly the flags it uses, values checked once by AppConfig.check."""
import argparse
from dataclasses import fields

import pytest

from edge_app import AppConfig, bench
from edge_app.cli import build_parser
from edge_app.errors import ConfigError
from edge_app.options import BY_FIELD, COMMANDS, NOT_FLAGS, TABLE, add_options, parse

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
                     "roi": "off", "stream_fourcc": "FFV1"}}
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
            config = parse(build_parser(), REQUIRED[command] + argv).config
            assert getattr(config, flag.field) == value, (command, flag.name)


@pytest.mark.parametrize("argv, words", [
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
