class CrmError(Exception):
    """Base of the CRM store's domain errors."""


class NotFound(CrmError):
    """No such record, or not one the asker may see."""


class InvalidInput(CrmError):
    """A value the CRM refuses: malformed phone, unknown category, empty name, ..."""


class Conflict(CrmError):
    """The change contradicts the record's state (a call already linked, ...)."""
