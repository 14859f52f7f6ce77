"""gopy bot package."""
