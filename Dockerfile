# ChatTrain in one image: the web process, the worker, migrations and the command line.
#
#   docker build -t chattrain .
#   docker run -p 8000:8000 -v chattrain-data:/app/data -e CHATTRAIN_SECRET_KEY=... chattrain
#
# Roles, volume and settings: the README's "Running in a container".
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The dependencies from the lock, requirements/server.txt (every version pinned, each
# download checked against its hash; the PostgreSQL and Redis drivers included, since one
# image serves both layouts), in a layer of their own that a change to the source reuses;
# the user the app runs as and its data folder too. Behind a proxy that intercepts TLS,
# give pip its CA bundle as the build secret `ca-bundle`
# (`--secret id=ca-bundle,src=/path/to/ca.crt`): used for the install, not kept.
COPY requirements/server.txt /tmp/requirements.txt
RUN --mount=type=secret,id=ca-bundle \
    set -eu; \
    if [ -s /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle; fi; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install --quiet --upgrade pip; \
    /opt/venv/bin/pip install --quiet --require-hashes -r /tmp/requirements.txt; \
    rm /tmp/requirements.txt; \
    groupadd --system --gid 10001 chattrain; \
    useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home chattrain; \
    mkdir -p /app/data; \
    chown chattrain:chattrain /app/data

# The application: installed in place (its code stays in /app, one copy), compiled ahead
# because the user it runs as cannot write /app.
WORKDIR /app
COPY . /app
RUN /opt/venv/bin/pip install --quiet --no-deps --no-build-isolation --no-index -e /app \
    && /opt/venv/bin/python -m compileall -q /app/shared /app/web /app/worker

# The SQLite files, the queue and the doorbell sockets: keep them on a volume.
VOLUME /app/data

# Settings come from the environment (README, "Settings"). Nothing secret is set here:
# CHATTRAIN_SECRET_KEY is the operator's to give at run time. In a container the web
# process listens on every interface of the container's own network.
ENV CHATTRAIN_DATA_DIR=/app/data \
    CHATTRAIN_SCENARIOS_DIR=/app/scenarios \
    CHATTRAIN_HOST=0.0.0.0 \
    PORT=8000
EXPOSE 8000

USER chattrain
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/app/container/healthcheck.py"]
ENTRYPOINT ["/app/container/entrypoint.sh"]
CMD ["all"]
