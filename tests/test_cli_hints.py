"""Every hint the command line prints, followed as a user would: the result changes.

Each case provokes one message with advice (a flag to pass, another file
name, the arguments the other way round), reads the advice from the message
itself, follows it, and checks that the run then succeeds cleanly, with
another result than before: no hint leads back to where it started (the
inverted-mask note once named --mask-convention for a mask read from its
transparency, which that flag does not change).
"""
import re
import shutil

import cv2
import numpy as np
import pytest

import edge_fakes
from edge_app.cli import build_parser, main
from test_edge_cli import alpha_masks, hole_share, sample_pair


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return edge_fakes.fake_hifill(tmp_path_factory.mktemp("hints") / "fake.onnx")


def run(argv, capsys):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def takes_a_value(command, flag):
    """Whether ``flag`` of ``command`` takes a value (so the word after it in a hint is that value)."""
    sub = build_parser()._subparsers._group_actions[0].choices[command]
    action = next(a for a in sub._actions if flag in a.option_strings)
    return action.nargs != 0


def with_flag(argv, flag, value):
    """``argv`` with ``flag`` (and its value) set, replacing an earlier one."""
    argv = list(argv)
    if flag in argv:
        at = argv.index(flag)
        del argv[at:at + (2 if value is not None else 1)]
    return argv + [flag] + ([value] if value is not None else [])


def follow(argv, message):
    """``argv`` changed as ``message`` advises."""
    passed = re.search(r"pass (--[a-z-]+)(?: ([\w.-]+))?", message)
    if passed:
        flag = passed.group(1)
        value = passed.group(2) if takes_a_value(argv[0], flag) else None
        assert not (flag == "--model" and value is None), message
        return with_flag(argv, flag, value)
    out = argv[argv.index("-o") + 1]
    if "are IMAGE and MASK swapped? The photo comes first" in message:
        return [argv[0], argv[2], argv[1]] + argv[3:]
    if "OUT is a folder: give a file name" in message:
        return with_flag(argv, "-o", str(out) + "/result.png")
    if "OUT is a folder: give a video file name" in message:
        return with_flag(argv, "-o", str(out) + "/result.mp4")
    if "cannot write this image format (use .png" in message or re.search(r"write \.png", message):
        return with_flag(argv, "-o", re.sub(r"\.\w+$", ".png", str(out)))
    if "(choose another -o)" in message:
        return with_flag(argv, "-o", str(out) + "_result" + (".png" if "." in str(out)[-5:] else ""))
    if "IMAGE is a folder, so MASK must be a folder of masks" in message:
        return [argv[0], argv[1], str(argv[2]).rsplit("/", 1)[0]] + argv[3:]
    raise AssertionError("no way to follow: " + message)


#: The runs that each print one hint (cases() builds them).
HINTS = ("inverted mask", "inverted mask, keep-white", "strokes on a transparent layer", "strokes, keep-white",
         "erased object, opaque-hole", "arguments swapped", "a photo as the mask", "output exists",
         "output is a folder", "unknown format", "16-bit to JPEG", "alpha to JPEG", "output is the input",
         "folder of images, one mask", "output folder is the input folder", "no model",
         "stream, strokes on a transparent layer", "stream output is a folder")


def cases(tmp, model):
    """{name in HINTS: argv} of runs that each print one hint."""
    photo_path, mask_path, photo, mask = sample_pair(tmp)
    erased, strokes = alpha_masks(tmp, photo, mask)
    inverted, other = tmp / "inverted.png", tmp / "other.jpg"
    cv2.imwrite(str(inverted), 255 - mask)
    cv2.imwrite(str(other), photo[::-1])
    deep, transparent = tmp / "deep.png", tmp / "transparent.png"
    cv2.imwrite(str(deep), photo.astype(np.uint16) * 257)
    cv2.imwrite(str(transparent), np.dstack([photo, np.full(mask.shape, 200, np.uint8)]))
    folder, images, masks_dir = tmp / "results", tmp / "images", tmp / "masks"
    for made in (folder, images, masks_dir):
        made.mkdir()
    shutil.copy(str(photo_path), str(images / "bridge.jpg"))
    shutil.copy(str(mask_path), str(masks_dir / "bridge.png"))
    existing = tmp / "existing.png"
    existing.write_bytes(b"an earlier result")
    video = tmp / "camera.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, photo.shape[1::-1])
    for shift in range(4):
        writer.write(np.roll(photo, 4 * shift, axis=1))
    writer.release()
    m = ["--model", model]
    return {
        "inverted mask": ["inpaint", photo_path, inverted, "-o", tmp / "o1.png"] + m,
        "inverted mask, keep-white": ["inpaint", photo_path, mask_path, "-o", tmp / "o2.png", "--mask-convention",
                                      "keep-white"] + m,
        "strokes on a transparent layer": ["inpaint", photo_path, strokes, "-o", tmp / "o3.png"] + m,
        "strokes, keep-white": ["inpaint", photo_path, strokes, "-o", tmp / "o4.png", "--mask-convention",
                                "keep-white"] + m,
        "erased object, opaque-hole": ["inpaint", photo_path, erased, "-o", tmp / "o5.png", "--alpha-convention",
                                       "opaque-hole"] + m,
        "arguments swapped": ["inpaint", mask_path, photo_path, "-o", tmp / "o6.png"] + m,
        "a photo as the mask": ["inpaint", photo_path, other, "-o", tmp / "o7.png"] + m,
        "output exists": ["inpaint", photo_path, mask_path, "-o", existing] + m,
        "output is a folder": ["inpaint", photo_path, mask_path, "-o", folder] + m,
        "unknown format": ["inpaint", photo_path, mask_path, "-o", tmp / "o8.xyz"] + m,
        "16-bit to JPEG": ["inpaint", deep, mask_path, "-o", tmp / "o9.jpg"] + m,
        "alpha to JPEG": ["inpaint", transparent, mask_path, "-o", tmp / "o10.jpg"] + m,
        "output is the input": ["inpaint", photo_path, mask_path, "-o", photo_path] + m,
        "folder of images, one mask": ["inpaint", images, masks_dir / "bridge.png", "-o", tmp / "out_dir"] + m,
        "output folder is the input folder": ["inpaint", images, masks_dir, "-o", images] + m,
        "no model": ["inpaint", photo_path, mask_path, "-o", tmp / "o11.png", "--model", tmp / "none.onnx",
                     "--backend", "onnxruntime"],
        "stream, strokes on a transparent layer": ["stream", "--source", video, "--mask", strokes, "-o",
                                                   tmp / "o12.mp4"] + m,
        "stream output is a folder": ["stream", "--source", video, "--mask", mask_path, "-o", folder] + m,
    }


def result_of(argv, stdout):
    """What a run produced: the hole share it reported and the bytes written."""
    out = argv[argv.index("-o") + 1]
    written = open(str(out), "rb").read() if re.search(r"\.\w+$", str(out)) else None
    return (hole_share(stdout) if "hole" in stdout else None), written


def test_every_case_is_run(tmp_path, model):
    assert tuple(cases(tmp_path, model)) == HINTS


@pytest.mark.parametrize("name", HINTS)
def test_following_a_hint_changes_the_result(tmp_path, model, capsys, name):
    """The hint followed: exit 0, no error, the same advice not given again,
    and where the first run wrote a result (a warning), another result. Only
    a photo read as a mask anyway may get a new note (it is mostly "hole")."""
    argv = cases(tmp_path, model)[name]
    code, stdout, err = run(argv, capsys)
    hints = [line for line in err.splitlines() if line.startswith(("error: ", "warning: "))]
    assert len(hints) == 1, err
    before = result_of(argv, stdout) if code == 0 else None
    if name == "no model":  # the hint names --model PATH: the model the other runs use
        assert "pass --model PATH" in hints[0]
        followed = with_flag(argv, "--model", model)
    else:
        followed = follow(argv, hints[0])
    if before is not None:  # run again over the first result, as a user does
        followed = with_flag(followed, "--overwrite", None)
    code, stdout, err = run(followed, capsys)
    assert code == 0 and "error:" not in err and hints[0] not in err, (hints[0], followed, err)
    assert name == "a photo as the mask" or "warning:" not in err, (hints[0], followed, err)
    if before is not None:  # a warning: the same command ran, differently now
        assert result_of(followed, stdout) != before, hints[0]
