"""The user-error family: `UserError` and what each layer raises under it."""

from index.errors import StoreError, UserError

__all__ = ["QuestionError", "StoreError", "UserError"]


class QuestionError(UserError):
    """The question cannot be asked as given (empty, too long, ...)."""
