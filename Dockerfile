# PITCH Explorer in a container: the same app as ./run-app.sh, listening on all
# interfaces inside the container only; the database and the watched folder
# live on the /data volume.
#   docker build -t pitch-explorer .
#   docker run -p 127.0.0.1:8501:8501 -v pitch-data:/data pitch-explorer
# The REST API answers on the same port under /api/v1. The server listens
# beyond loopback here, so the API refuses uploads and deletes unless a token
# is set (then every call needs it): add -e PITCH_API_TOKEN=... to docker run.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PITCH_DB=/data/pitch.duckdb \
    PITCH_INBOX=/data/inbox \
    PITCH_WATCH_POLLING=1

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

# The app runs as an unprivileged user; only /data is writable by it.
RUN useradd --create-home --uid 10001 --user-group pitch \
    && mkdir -p /data/inbox \
    && chown -R pitch:pitch /data
COPY . .

USER pitch
VOLUME ["/data"]
EXPOSE 8501

# No curl in the slim image: ask the server's health endpoint with Python.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"]

CMD ["python", "-m", "streamlit", "run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8501", "--server.headless", "true"]
