"""Domain errors raised by services; the web and API layers turn them into a message or a JSON error."""


class DomainError(Exception):
    """Something the user or client asked for that the rules refuse. `message` is safe to show."""

    code = "invalid"
    status = 422

    def __init__(self, message, **detail):
        super().__init__(message)
        self.message = message
        self.detail = detail


class ValidationFailed(DomainError):
    code = "validation_failed"

    def __init__(self, message, fields=None):
        super().__init__(message, fields=fields or {})
        self.fields = fields or {}


class NotFound(DomainError):
    code = "not_found"
    status = 404


class OutOfScope(DomainError):
    """The record exists but belongs to another store; shown as not found so nothing leaks."""

    code = "not_found"
    status = 404


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class ReadOnlyClient(Forbidden):
    """An integration token allowed to read only tried to change something."""

    code = "read_only"


class ForbiddenScope(Forbidden):
    """An integration token tried to act on a channel or store outside its scope (writes; reads 404)."""

    code = "out_of_scope"


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class InvalidTransition(Conflict):
    code = "invalid_transition"


class AlreadyCollected(Conflict):
    code = "already_collected"


class DuplicateCustomer(Conflict):
    """A profile with this email or phone number exists already: offer it instead of creating another."""

    code = "duplicate_customer"

    def __init__(self, existing, message=None, field=""):
        super().__init__(
            message or "A customer with this email address or phone number exists already.", customer_id=existing.id
        )
        self.existing = existing
        self.field = field
