"""The web chat. It talks only to `qa`."""
