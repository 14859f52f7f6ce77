FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Build from the sources, install the wheel with the exact tested versions (constraints.txt), keep no sources:
# the installed package is self-contained (its default data is the `gopy_data` resource package).
WORKDIR /src
COPY pyproject.toml setup.py README.md constraints.txt ./
COPY bot ./bot
COPY nlu ./nlu
COPY handlers ./handlers
COPY backend ./backend
COPY data ./data
RUN pip install --no-cache-dir -c constraints.txt . && cd / && rm -rf /src
# Local state (SQLite when no database URL is set) under GOPY_VAR_DIR; the NLU models on their own volume.
WORKDIR /var/lib/gopy
ENV GOPY_VAR_DIR=/var/lib/gopy GOPY_MODEL_DIR=/models GOPY_HOST=0.0.0.0
EXPOSE 8000
CMD ["gopy", "serve"]
