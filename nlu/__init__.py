"""gopy nlu package."""
