# Trouw's image: a build stage that installs Trouw and its dependencies into a virtual
# environment, and a slim runtime stage that copies only that environment and runs as an
# unprivileged user. docs/operations.md shows how to run it (alone, or with compose.yaml).
#
#   docker build -t trouw .
#   docker run -p 8000:8000 trouw

ARG PYTHON=python:3.11-slim-bookworm

FROM ${PYTHON} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/trouw
WORKDIR /src
# The dependencies first, so that a change to the code alone reuses this layer.
COPY pyproject.toml README.md ./
RUN mkdir -p loyalty api wallet notifications \
    && touch loyalty/__init__.py api/__init__.py wallet/__init__.py notifications/__init__.py \
    && /opt/trouw/bin/pip install . \
    && /opt/trouw/bin/pip uninstall -y trouw
COPY loyalty loyalty
COPY api api
COPY wallet wallet
COPY notifications notifications
RUN /opt/trouw/bin/pip install --no-deps . \
    && /opt/trouw/bin/python -m compileall -q /opt/trouw/lib

FROM ${PYTHON} AS runtime
ENV PATH=/opt/trouw/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TROUW_DATABASE_URL=sqlite+aiosqlite:////var/lib/trouw/trouw.db
RUN groupadd --system --gid 10001 trouw \
    && useradd --system --uid 10001 --gid trouw --home-dir /var/lib/trouw trouw \
    && mkdir -p /var/lib/trouw && chown trouw:trouw /var/lib/trouw
COPY --from=build /opt/trouw /opt/trouw
USER 10001:10001
WORKDIR /var/lib/trouw
EXPOSE 8000
# Liveness of the API; the worker and the scheduler override it (compose.yaml).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"]
ENTRYPOINT ["trouw"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
