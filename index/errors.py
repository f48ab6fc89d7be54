class UserError(Exception):
    """A problem the user can fix: every layer raises a subclass, and `qa` exports this base.

    It lives in the lowest layer so that the store's errors can be one of them. The message is
    shown as is, without a traceback, so it says what to do.
    """


class StoreError(UserError):
    """The store or the documents: a missing index, an unreadable folder, a mismatched store."""


class NoCollection(StoreError):
    """No collection of that name in the store."""


class NoStore(NoCollection):
    """No store at the configured folder yet (nothing has been indexed there, so no collection either)."""


class EmbedServerError(UserError):
    """The embeddings server (QA_EMBED_BASE_URL) is down, does not speak the API, or returns vectors of the wrong size."""
