"""The serve page's refused requests."""


class HttpError(Exception):
    """A refused request: its HTTP status and a message for the page."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message
