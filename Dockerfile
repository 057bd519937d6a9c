# syntax=docker/dockerfile:1
#
# One image for every process of the mesh but Redis. The container's
# command names the process:
#   defrag-edge --config PATH   Envoy, drained on SIGTERM (defrag/edge.py)
#   defrag-gateway, defrag-telemetry, defrag-seda, defrag-orbit, defrag-billing
#   defrag                      the operator's command (the default: prints its help)
# Each is a console script of pyproject.toml and runs as `python -m ...` does
# in a checkout; docs/image.md lists the settings and how to build and push.
#
# NOTE: no container engine was available where this file was written, so
# it has never been built. tests/test_image.py checks what can be checked
# without one: the commands it names exist and start, it installs from
# requirements.lock only, runs as a numeric non-root user, copies paths that
# exist, and the services run on a read-only root filesystem.

# Python 3.11.7 is the interpreter the test suite ran with. To move to a newer
# patch release or Debian, change the tag (and add its @sha256 digest), then run
# `make test` on the same Python.
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build

# NUMBA_CPU_NAME=generic compiles for any x86-64 CPU, so the compiled code
# built here loads on whatever CPU the cluster's nodes have. On the AMD EPYC
# host where this was written, a 366-instant chart batch took 4.8 ms with
# generic and with host-tuned code alike.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    NUMBA_CPU_NAME=generic \
    PATH=/opt/venv/bin:$PATH
WORKDIR /app

# The virtual environment lives at the same path in both stages, because its
# scripts name /opt/venv/bin/python in their first line.
RUN python -m venv /opt/venv

# The dependencies first, in their own layer, so that a change to the code
# does not reinstall them. Only requirements.lock: the test-only packages of
# requirements-test.lock never enter the image.
COPY requirements.lock ./
# xds-protos ships its own google/api and google/rpc modules, and whichever
# package installs last wins, so googleapis-common-protos is reinstalled
# last, as the Makefile does.
RUN pip install -r requirements.lock \
 && pip install --no-deps --force-reinstall "$(grep -i '^googleapis-common-protos==' requirements.lock)"

# The project, laid out as in a checkout: the code finds config/, deploy/ and
# build/ next to defrag/ (defrag/platform/config.py sets ROOT to /app).
COPY pyproject.toml ./
COPY protos protos
COPY tools/build_protos.py tools/build_protos.py
COPY config config
COPY deploy deploy
COPY defrag defrag
COPY services services

# The Python stubs into defrag/ and Envoy's descriptor set build/defrag.pb,
# which the transcoder and the gateway's reflection read.
RUN python tools/build_protos.py

# An editable install, as in the Makefile, so that the code stays in /app;
# it adds the console scripts to /opt/venv/bin. Build isolation fetches a
# setuptools with editable-install support (64 or later), because the one that
# Python 3.11's venv bundles (65.5, without the wheel package) cannot build one.
RUN pip install --no-deps -e .

# The derived ephemeris arrays into build/cache, and Numba's compiled code for
# the position engine and the zone lookup into build/numba. At run time the
# services copy the latter into the writable NUMBA_CACHE_DIR (see
# defrag/platform/numba_cache.py), so their first start compiles nothing.
RUN NUMBA_CACHE_DIR=/app/build/numba python -m defrag.cache

# Bytecode now, because the running services cannot write it (read-only root
# filesystem, PYTHONDONTWRITEBYTECODE).
RUN python -m compileall -q defrag services

# Fails the build if a command that the chart or the docs name is missing.
RUN for command in defrag defrag-edge defrag-gateway defrag-telemetry defrag-seda defrag-orbit defrag-billing; do \
      test -x "/opt/venv/bin/$command" || { echo "missing console script: $command" >&2; exit 1; }; \
    done

# The cache arrays are written with mode 0600 (tempfile.mkstemp); the
# services run as another user, so everything becomes readable by all and
# writable by root alone.
RUN chmod -R a+rX,go-w /app /opt/venv

# ---------------------------------------------------------------- final stage
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="defrag" \
      org.opencontainers.image.description="The defrag API mesh: Envoy edge, gateway, telemetry, SEDA, orbit and billing" \
      app.defrag.commands="defrag-edge defrag-gateway defrag-telemetry defrag-seda defrag-orbit defrag-billing defrag"

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

# PYTHONDONTWRITEBYTECODE: the root filesystem is read-only.
# NUMBA_CACHE_DIR, TMPDIR: /tmp is the one writable path (an emptyDir in the
# Helm chart); DEFRAG_NUMBA_SEED_DIR is the compiled code built above, copied
# there at start. NUMBA_CPU_NAME must match the build stage's.
# DEFRAG_BIND_HOST: a container's loopback address is unreachable from other
# pods, so the services listen on every address (Envoy's admin port stays on
# 127.0.0.1, as its configuration sets).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TMPDIR=/tmp \
    NUMBA_CACHE_DIR=/tmp/numba \
    NUMBA_CPU_NAME=generic \
    DEFRAG_NUMBA_SEED_DIR=/app/build/numba \
    DEFRAG_BIND_HOST=0.0.0.0

WORKDIR /app
# A numeric user, so that Kubernetes' runAsNonRoot can verify it without
# an /etc/passwd entry. It owns no file of the image.
USER 10001:10001

# Exec form, so that the command is PID 1 and receives SIGTERM itself. No
# ENTRYPOINT: the container's command is the process to run.
CMD ["defrag", "--help"]
