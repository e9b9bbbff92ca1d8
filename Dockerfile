# syntax=docker/dockerfile:1
# meshbot's image: `docker build -t REGISTRY/meshbot:0.1.0 .` (helm/meshbot's image.repository).
# Pin the base by digest for reproducible builds, e.g.
#   --build-arg PYTHON_IMAGE=python:3.12.11-slim-bookworm@sha256:<digest>
# Python 3.12: the staged Istio install (extra "install") runs Helm through helm-sdkpy.
ARG PYTHON_IMAGE=python:3.12.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG EXTRAS=install
WORKDIR /src
COPY docker/build-wheels.sh /usr/local/bin/build-wheels
COPY pyproject.toml README.md ./
COPY commands ./commands
COPY bot ./bot
RUN build-wheels /src /wheels "${EXTRAS}"

FROM ${PYTHON_IMAGE}
ARG EXTRAS=install
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""
LABEL org.opencontainers.image.title="meshbot" \
      org.opencontainers.image.description="Slack chat-ops bot for rolling out an Istio service mesh" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
RUN groupadd --system --gid 10001 meshbot \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /var/lib/meshbot --shell /usr/sbin/nologin meshbot
COPY docker/install.sh /usr/local/bin/install-meshbot
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    install-meshbot /wheels /opt/meshbot "${EXTRAS}" \
 && install -d -o 10001 -g 10001 /var/lib/meshbot
ENV PATH=/opt/meshbot/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /var/lib/meshbot
USER 10001:10001
# 8081: /healthz /readyz /metrics; 3000: /slack/events (serve --http)
EXPOSE 8081 3000
ENTRYPOINT ["meshbot"]
CMD ["serve"]
