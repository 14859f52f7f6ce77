"""gopy backend package."""
