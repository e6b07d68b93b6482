"""Domain errors that every adapter (web, worker, bot) knows how to report."""


class DomainError(Exception):
    """Base class of the errors the domain raises on purpose."""


class ServiceUnavailable(DomainError):
    """A backing service (Postgres or Redis) can't be reached right now; retry later."""

    def __init__(self, service: str, detail: str = "") -> None:
        super().__init__(f"{service} is unavailable" + (f": {detail}" if detail else ""))
        self.service = service


class InvalidPhoneNumber(DomainError):
    """The text is not a valid phone number."""
