# Bifrost image: one image runs every process (web, worker, beat); the command picks which.
#   web:     docker/start-web.sh   (migrate, periodic tasks, then daphne; WEB_SERVER=granian: granian alone for HTTP;
#                                   WEB_SERVER=split: granian on 8000 for HTTP and daphne on 8001 for WebSockets)
#                                   -- also the default CMD is daphne alone
#   jobs:    docker/start-jobs.sh  (celery worker + celery beat side by side; "worker" or "beat" for one of them)
#   migrate: docker/migrate.sh     (one-shot: migrate, periodic tasks, workflow discovery; production runs it first)
# See docs/deployment.md (docker-compose.yml, deploy/compose.production.yml, deploy/kubernetes/).

# ---------------------------------------------------------------------------
# builder: compile wheels that need it and build the virtualenv
# ---------------------------------------------------------------------------
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:${PATH}"

# Only the requirements file first, so code changes do not invalidate this layer.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt

# ---------------------------------------------------------------------------
# runtime: slim image with runtime libraries only
# ---------------------------------------------------------------------------
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:${PATH}" \
    DJANGO_SETTINGS_MODULE=bifrost_site.settings \
    WORKSPACE_PATH=/app/workspace \
    MEDIA_ROOT=/app/media \
    STATIC_ROOT=/app/staticfiles

# git (+ ssh for git@host:repo URLs) is used by the workspace git sync; libpq5 for psycopg.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client ca-certificates libpq5 \
    && rm -rf /var/lib/apt/lists/*

# Fixed uid/gid so volume ownership is stable across rebuilds and hosts.
RUN groupadd --system --gid 10001 bifrost \
    && useradd --system --uid 10001 --gid bifrost --home-dir /home/bifrost --create-home \
       --shell /usr/sbin/nologin bifrost

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Application code stays owned by root (read-only for the runtime user).
COPY . /app

# Static files are collected at build time. The settings need a SECRET_KEY and a database URL to import;
# both are throwaway values used for this step only (collectstatic never connects to the database).
RUN SECRET_KEY="build-only-collectstatic-key-not-a-secret-0123456789" \
    ENVIRONMENT=development \
    DATABASE_URL="postgres://build:build@localhost:5432/build" \
    python manage.py collectstatic --noinput \
    && chmod 0755 /app/docker/*.sh \
    && mkdir -p /app/workspace /app/media \
    && chown -R bifrost:bifrost /app/workspace /app/media

USER 10001:10001

EXPOSE 8000 8001

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4); sys.exit(0 if r.status == 200 else 1)"]

ENTRYPOINT ["/app/docker/entrypoint.sh"]
# daphne's listen backlog is set through its Twisted endpoint (its own default, 50, drops connections under load).
CMD ["daphne", "-e", "tcp:port=8000:interface=0.0.0.0:backlog=2048", "--proxy-headers", "bifrost_site.asgi:application"]
