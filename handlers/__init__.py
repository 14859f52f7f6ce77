"""gopy handlers package."""
