"""The Ascend SoCs ``convert atc`` targets: one table that drives the
``--soc`` validation and help, ``detect_soc`` and what ``convert.sh`` does
per SoC (spec ascend.md section 1, Huawei's ATC and Atlas 200I DK A2 docs).

What differs between the Ascend 310 and the 310B, as far as the conversion
goes, is not the atc command line (the same flags are used for both) but:

- ``--soc_version``: an .om runs only on the SoC it was converted for, so an
  Ascend310 .om does not load on a 310B board and the other way round.
  Huawei's ATC reference says to pass ``Ascend`` + the Name column of
  ``npu-smi info`` (310B boards show ``310B1`` or ``310B4``); Huawei's samples
  use ``Ascend310B1`` for "the 310B", Orange Pi AIpro users ``Ascend310B4``.
  Whether an .om of one 310B name runs on a board that shows the other is
  not known here.
- the CANN release: ATC's ``--soc_version`` reference lists the Atlas
  200/300/500 inference products (Ascend310) up to the CANN 8.2 documents and
  no longer from 8.3 on; the Atlas 200I/500 A2 products (310B) are listed up
  to the newest. From CANN 8.5 ATC needs the operator package of the target
  SoC installed. Which CANN release first knows the 310B is not known here.
- where the conversion runs: the Atlas 200I DK A2 images ship the CANN
  toolkit, and their users (and Orange Pi AIpro users) run atc on the board
  itself, with a few GB of memory. Community guides for those boards limit ATC's parallel compilers
  (``TE_PARALLEL_COMPILER=1``, ``MAX_COMPILE_CORE_NUMBER=1``) so that it does
  not run out of memory; ``convert.sh`` sets both for the 310B unless the
  caller has already set them (on a large host: export other values).

Nothing here was run against a real ATC or board (none is available to this
project).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Tuple


@dataclass(frozen=True)
class SocTarget:
    """One ``--soc_version`` and what the conversion for it needs."""

    #: ATC's --soc_version.
    name: str
    #: The chip as the Name column of ``npu-smi info`` shows it.
    chip: str
    #: Boards this SoC is known to ship on (for messages and docs).
    boards: Tuple[str, ...]
    #: Environment convert.sh exports before atc unless already set: (name, value).
    atc_env: Tuple[Tuple[str, str], ...]
    #: Printed by convert.sh when atc fails: what is known to go wrong for this SoC.
    failure_hint: str


_ON_BOARD_ENV = (("TE_PARALLEL_COMPILER", "1"), ("MAX_COMPILE_CORE_NUMBER", "1"))
_310B_HINT = ("for a 310B target: use a CANN toolkit that lists the Atlas 200I/500 A2 products; from CANN 8.5 "
              "install the 310B operator package as well; on the board, out of memory: keep "
              "TE_PARALLEL_COMPILER=1 and MAX_COMPILE_CORE_NUMBER=1 and close other programs")

#: Every SoC ``convert atc --soc`` accepts, the first the default.
SOC_TABLE: Tuple[SocTarget, ...] = (
    SocTarget("Ascend310", "310", ("Atlas 200 DK",), (),
              "for Ascend310 (Atlas 200 DK): ATC's --soc_version reference no longer lists the Atlas 200/300/500 "
              "inference products from CANN 8.3 on: convert with a CANN release that matches the board's driver"),
    SocTarget("Ascend310B1", "310B1", ("Atlas 200I DK A2",), _ON_BOARD_ENV, _310B_HINT),
    SocTarget("Ascend310B4", "310B4", ("Orange Pi AIpro", "Atlas 200I DK A2"), _ON_BOARD_ENV, _310B_HINT),
)
SOCS: Tuple[str, ...] = tuple(s.name for s in SOC_TABLE)
_BY_NAME: Dict[str, SocTarget] = {s.name: s for s in SOC_TABLE}

# A chip name as npu-smi prints it ("310", "310B4"), alone or after "Ascend".
_CHIP = re.compile(r"(?<![\w.])(?:Ascend)?(310[A-Za-z]?\d*)(?![\w.])", re.IGNORECASE)


def soc_target(name: str) -> SocTarget:
    """The table entry of an exact ``--soc_version`` name; ValueError listing the known ones."""
    if name not in _BY_NAME:
        raise ValueError(f"unsupported SoC {name!r}: accepted {', '.join(SOCS)}")
    return _BY_NAME[name]


def detect_soc(value: str) -> str:
    """``--soc_version`` from a SoC name, or from the text of ``npu-smi info``
    given inline or as ``@path`` (e.g. a row '| 0  310B4  | OK ...' -> Ascend310B4).
    ValueError (one line, listing the accepted names) for anything else."""
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        if not path.is_file():
            raise FileNotFoundError(f"npu-smi text file not found: {path}")
        text = path.read_text(errors="replace")
    accepted = ", ".join(SOCS)
    for match in _CHIP.finditer(text):
        soc = "Ascend" + match.group(1).upper()
        if soc in _BY_NAME:
            return soc
        raise ValueError(f"unsupported SoC '{soc}': accepted {accepted} (or the text of `npu-smi info`)")
    raise ValueError(f"unknown SoC {value.strip()[:60]!r}: accepted {accepted} (or the text of `npu-smi info`)")


def soc_help() -> str:
    """One line per SoC for ``--help``: name, npu-smi chip, boards."""
    return "; ".join(f"{s.name} (npu-smi '{s.chip}': {', '.join(s.boards)})" for s in SOC_TABLE)
