"""The serve page's refused requests."""
from typing import Dict, Optional


class HttpError(Exception):
    """A refused request: its HTTP status, a message for the page, and headers
    to send with it (Retry-After for a 503)."""

    def __init__(self, status: int, message: str, headers: Optional[Dict[str, str]] = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
