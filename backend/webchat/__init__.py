"""gopy backend: webchat."""
