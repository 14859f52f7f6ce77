"""gopy's default data, installed as the resource package ``gopy_data``: routing rules (routing.yml), the citizens'
texts (templates/vi.yml), the NLU training and held-out data (nlu/) and the common-password list (security/).

``GOPY_DATA_DIR`` points gopy at another folder of the same layout; see ``backend.config.bundled_data_dir``.
"""
