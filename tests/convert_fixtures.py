"""Session fixture of the convert tests: the random-init 512 model, exported
once per test session (several seconds on 2 cores).

Test modules load this file as a plugin (``pytest_plugins = ["convert_fixtures"]``)
rather than importing it, so the fixture is registered once and shared by all
modules; tests/conftest.py is shared with other parts of the project.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import onnx
import pytest

from convert.export import export
from convert.wrapper import DeployWrapper, Provenance, load_wrapper


@dataclass(frozen=True)
class Exported:
    """The random-init wrapper (``seed``) and its exported ONNX file."""

    wrapper: DeployWrapper
    provenance: Provenance
    path: Path
    seed: int

    def model(self) -> onnx.ModelProto:
        return onnx.load(str(self.path))


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    seed = 0
    wrapper, provenance = load_wrapper(None, seed)
    path = tmp_path_factory.mktemp("convert") / "hifill.onnx"
    export(wrapper, provenance, str(path))
    return Exported(wrapper, provenance, path, seed)
