"""Package discovery for setuptools; everything else is in pyproject.toml.

The repository keeps its data in the top-level ``data/`` folder. It is installed as the resource package
``gopy_data`` (routing rules, templates, NLU data, the common-password list), so an installed wheel is
self-contained; an editable install maps ``gopy_data`` to the repository's ``data/`` folder itself.
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["bot*", "nlu*", "handlers*", "backend*"]), "gopy_data"],
    package_dir={"gopy_data": "data"},
)
