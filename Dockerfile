# The Flipside image: docker-compose.yml runs it as the `worker`, `portal` and `codec-server` services.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# A fixed non-root user, and /data owned by it: a named volume mounted there starts with this ownership.
RUN groupadd --system --gid 10001 flipside \
    && useradd --system --uid 10001 --gid flipside --home-dir /app --no-create-home --shell /usr/sbin/nologin flipside \
    && mkdir /data \
    && chown flipside:flipside /data

COPY pyproject.toml README.md ./
COPY domain/ domain/
COPY workflows/ workflows/
COPY activities/ activities/
COPY adapters/ adapters/
COPY migrations/ migrations/
COPY portal/ portal/
# pyproject.toml also installs these, so `pip install .` needs them in the build context.
COPY demo/ demo/
COPY worker.py starter.py settings.py bootstrap.py flipside_client.py codec_server.py ./

# Compiled once here: the worker's sandbox imports the workflow modules for every workflow it starts, and with
# PYTHONDONTWRITEBYTECODE and no cache each of those imports would compile the source again.
RUN pip install --no-cache-dir . && python -m compileall -q /app

USER flipside
ENV FLIPSIDE_DATA_DIR=/data

CMD ["python", "worker.py"]
