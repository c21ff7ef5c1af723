"""The cores split between the network and the frame path (edge_app.cores),
and the commands that size the network's threads by it."""
import pytest

import edge_fakes
from edge_app import AppConfig
from edge_app.cli import build_parser, open_inpainter
from edge_app.cores import compose_threads, cores, for_command, network_threads
from edge_app.options import parse


def test_the_network_gets_the_cores_the_frame_path_leaves():
    config = AppConfig()
    assert network_threads(config, beside_frames=False) == 0  # a photo alone: the runtime's default
    assert [network_threads(config, True, count) for count in (1, 2, 8)] == [1, 1, 7]
    assert network_threads(config.with_options(network_threads=3), True, 2) == 3  # asked for: as asked
    split = config.with_options(network_threads=1)
    # compose's own choice (one thread below 8K, up to 4 above) capped at the cores the network leaves
    assert compose_threads(config, 4320, 7680, 2) == min(4, cores())
    assert compose_threads(split, 4320, 7680, 2) == 1 and compose_threads(split, 4320, 7680, 8) == min(4, cores())
    assert compose_threads(split, 1080, 1920, 8) == 1
    assert compose_threads(split.with_options(cra_threads=3), 4320, 7680, 2) == 3


@pytest.mark.parametrize("command, argv", [("inpaint", ["inpaint", "a.png", "m.png", "-o", "o.png"]),
                                           ("stream", ["stream", "--source", "0", "--mask", "m.png", "-o", "o.mp4"]),
                                           ("serve", ["serve"]), ("bench", ["bench", "--out", "r.json"])])
def test_each_command_opens_the_network_with_its_threads(tmp_path, command, argv):
    model = edge_fakes.fake_hifill(tmp_path / "fake.onnx")
    args = parse(build_parser(), argv + ["--model", model, "--backend", "onnxruntime"])
    expected = for_command(args.config, command).network_threads
    assert expected == (0 if command == "inpaint" else max(1, cores() - 1))
    with open_inpainter(args) as inpainter:
        options = inpainter.backend._session.get_session_options()
        assert options.intra_op_num_threads == expected and inpainter.config.network_threads == expected
    args = parse(build_parser(), argv + ["--model", model, "--backend", "onnxruntime", "--network-threads", "2"])
    with open_inpainter(args) as inpainter:
        assert inpainter.backend._session.get_session_options().intra_op_num_threads == 2
