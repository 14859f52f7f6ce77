FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY nlu ./nlu
COPY handlers ./handlers
COPY backend ./backend
COPY data ./data
RUN pip install --no-cache-dir .
ENV GOPY_DATA_DIR=/app/data GOPY_MODEL_DIR=/models GOPY_HOST=0.0.0.0
EXPOSE 8000
CMD ["gopy", "serve"]
