"""The user-error family: `UserError` and what each layer raises under it."""

from index.errors import NoCollection, StoreError, UserError

__all__ = ["NoCollection", "QuestionError", "StoreError", "UserError"]


class QuestionError(UserError):
    """The question cannot be asked as given (empty, too long, ...)."""
