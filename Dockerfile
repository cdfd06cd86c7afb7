# syntax=docker/dockerfile:1
#
# emf-neuron container image. Needs BuildKit (the default builder since Docker 23).
#
#   docker build -t emf-neuron:0.1.0 .                                   # target `neuron` (default)
#   docker build -t emf-neuron:0.1.0-demo --build-arg NEURON_TOOLS=0 .   # demo image, CMD ["demo"]
#   docker build -t emf-neuron:0.1.0-demo --target demo .                # the same demo image
#
# Stages:
#   build         builds the emf-neuron wheel (throwaway)
#   neuron-tools  installs aws-neuronx-tools from the Neuron apt repository (throwaway; only
#                 built when the default target is built with NEURON_TOOLS=1)
#   runtime       python:3.12-slim + the wheel, non-root user; no Neuron tools
#   demo          runtime with CMD ["demo"]: the bundled simulated neuron-monitor, no device needed
#   neuron        (default target) runtime + /opt/aws/neuron from neuron-tools, CMD ["run"];
#                 with --build-arg NEURON_TOOLS=0 it is the demo image instead
#
# Base image: pinned by tag. The Debian release is part of the tag because python:3.12-slim moves
# to a new Debian release from time to time, and the neuron-monitor binary is copied between two
# stages that must share one C library. For reproducible builds pin the digest as well:
#   docker buildx imagetools inspect python:3.12-slim-bookworm   # prints "Digest: sha256:..."
#   docker build --build-arg PYTHON_IMAGE=python:3.12-slim-bookworm@sha256:<digest> .
# and let a bot (Dependabot, Renovate) move the digest so security fixes still arrive.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
# 1: the default `neuron` target contains neuron-monitor and runs it. 0: the `neuron` target is the
# demo image and the Neuron apt repository is never contacted.
ARG NEURON_TOOLS=1

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY emf_neuron ./emf_neuron
RUN python -m pip wheel --no-cache-dir --no-deps -w /wheels .

# ---------------------------------------------------------------------------------------------
# aws-neuronx-tools from the Neuron apt repository, in a throwaway stage: curl, gnupg, the apt
# lists and the repository configuration never reach the final image. The repository publishes
# Ubuntu suites (focal, jammy, noble), so NEURON_APT_SUITE names one; the package ships prebuilt
# programs under /opt/aws/neuron (neuron-monitor is a Go program).
FROM ${PYTHON_IMAGE} AS neuron-tools
ARG NEURON_APT_SUITE=jammy
# Neuron's documented pin: any 2.x release. Pin an exact version (e.g. 2.26.*) for repeatable builds.
ARG NEURON_TOOLS_VERSION=2.*
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The helper packages are left unpinned on purpose: this stage is discarded, and exact Debian
# versions disappear from the mirrors within weeks. The package that ships is pinned above.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && install -d -m 0755 /etc/apt/keyrings \
 && curl -fsSL https://apt.repos.neuron.amazonaws.com/GPG-PUB-KEY-AMAZON-AWS-NEURON.PUB \
    | gpg --dearmor -o /etc/apt/keyrings/neuron.gpg \
 && echo "deb [signed-by=/etc/apt/keyrings/neuron.gpg] https://apt.repos.neuron.amazonaws.com ${NEURON_APT_SUITE} main" \
    > /etc/apt/sources.list.d/neuron.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends "aws-neuronx-tools=${NEURON_TOOLS_VERSION}" \
 && test -x /opt/aws/neuron/bin/neuron-monitor \
 && rm -rf /var/lib/apt/lists/*

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG SOURCE_URL=https://github.com/example/emf-neuron
# The group that may open /dev/neuron*. It must equal the gid of the HOST group that owns the
# device nodes (Neuron's udev rule: GROUP="neuron", MODE="0660"; check with `stat -c %g
# /dev/neuron0` on the instance), because the container sees the host's numeric gid. The task
# definition's `user: "10001:<gid>"` must use the same number. --non-unique: any host gid works,
# even one the base image already uses for another group.
ARG NEURON_GID=1001
ARG APP_UID=10001
LABEL org.opencontainers.image.title="emf-neuron" \
      org.opencontainers.image.description="Sidecar that supervises AWS neuron-monitor and writes CloudWatch Embedded Metric Format to stdout." \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# The wheel is bind-mounted from the build stage, so it never becomes a layer. --only-binary makes
# a dependency without a wheel fail the build instead of looking for a compiler (there is none).
# pip itself is removed afterwards: nothing installs anything at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
    python -m pip install --no-cache-dir --only-binary=:all: /wheels/emf_neuron-*.whl \
 && python -m pip uninstall --yes pip \
 && groupadd --non-unique --gid "${NEURON_GID}" neuron \
 && useradd --uid "${APP_UID}" --gid neuron --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin emf-neuron
# pip pre-compiled the bytecode at install time; at run time the root filesystem is read-only, so
# Python must not try to write any.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER ${APP_UID}:${NEURON_GID}
# No HEALTHCHECK on purpose: the health of the sidecar is the MonitorUp metric and a CloudWatch
# alarm on it. A container health check would make ECS replace the task over a metrics outage,
# and the sidecar is a non-essential container whose health does not count for the task anyway.
# Exec form only: no shell is involved at run time. ECS `initProcessEnabled` provides the init.
ENTRYPOINT ["emf-neuron"]
CMD ["run"]

# ---------------------------------------------------------------------------------------------
FROM runtime AS demo
CMD ["demo"]

# ---------------------------------------------------------------------------------------------
# Only /opt/aws/neuron/bin/neuron-monitor is used at run time (neuron-ls, neuron-top, the profiler
# and the companion scripts are not). This copies the package's tree as installed; once `ldd`
# below has been checked on your build, the smallest image copies the one binary instead:
#   COPY --from=neuron-tools /opt/aws/neuron/bin/neuron-monitor /opt/aws/neuron/bin/neuron-monitor
FROM runtime AS neuron-1
COPY --from=neuron-tools /opt/aws/neuron /opt/aws/neuron
# Fail the build, not the task, when the binary needs a shared library the base image lacks. The
# ldd output lands in the build log (a static binary prints "not a dynamic executable": fine).
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN out="$(ldd /opt/aws/neuron/bin/neuron-monitor 2>&1 || true)"; echo "$out"; \
    ! grep -q 'not found' <<<"$out"

FROM demo AS neuron-0

# ---------------------------------------------------------------------------------------------
# The default target (the last stage). NEURON_TOOLS selects which of the two stages above it is.
# DL3006 (tag the image) does not apply: neuron-${NEURON_TOOLS} names a stage of this file, not an
# image, and hadolint cannot expand the build argument to see that.
# hadolint ignore=DL3006
FROM neuron-${NEURON_TOOLS} AS neuron
