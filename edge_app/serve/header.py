"""An uploaded image's format and size from its first bytes, before anything is decoded."""
import struct
from typing import Tuple

from .errors import HttpError

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (they hold the size); C4, C8 and CC are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_NO_LENGTH = frozenset(range(0xD0, 0xD9)) | {0x01}


def header_size(data: bytes) -> Tuple[str, int, int]:
    """("png" or "jpeg", width, height) from the file's header, without decoding it
    (HttpError 415 for anything else)."""
    if data[:8] == _PNG_MAGIC and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return "png", width, height
    if data[:3] == b"\xff\xd8\xff":
        i = 2
        while i + 4 <= len(data) and data[i] == 0xFF:
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
            elif marker in _JPEG_NO_LENGTH:
                i += 2
            elif marker in _JPEG_SOF:
                if i + 9 > len(data):
                    break
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return "jpeg", width, height
            else:
                i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    raise HttpError(415, "not an image: send a PNG or JPEG file")
