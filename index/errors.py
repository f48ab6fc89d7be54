class StoreError(Exception):
    """A problem the user can fix (missing index, unreadable folder, mismatched store).

    The message is shown as is, without a traceback, so it says what to do.
    """


class NoStore(StoreError):
    """No store at the configured folder yet (nothing has been indexed there)."""
