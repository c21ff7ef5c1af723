"""The app's exception and warning classes.

``InpaintError`` holds the file and the problem so the CLI can print the
one-line ``error: <file>: <problem>`` and exit with status 2.
"""
from typing import Optional


class InpaintError(Exception):
    """Bad input or a failed step, with the file it concerns."""

    def __init__(self, problem: str, path: Optional[str] = None):
        super().__init__(problem)
        self.problem = problem
        self.path = path

    def __str__(self) -> str:
        return "{}: {}".format(self.path, self.problem) if self.path else self.problem


class NotAMaskError(InpaintError):
    """A mask file that looks like a photo (the photo passed as the mask?)."""


class ModelError(InpaintError):
    """A missing model or one that does not match edge_app/interface.py."""


class ConfigError(ValueError):
    """A setting outside its documented range: the AppConfig field and the problem."""

    def __init__(self, field: str, problem: str):
        super().__init__("{}: {}".format(field, problem))
        self.field = field
        self.problem = problem


class InpaintWarning(UserWarning):
    """Something suspicious that does not stop the run (empty mask, inverted mask)."""
