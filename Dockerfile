# opgate: admission webhooks (`opgate serve`) and reconciler (`opgate reconcile`).
#   docker build -t ghcr.io/vworkspace-io/opgate:0.1.0 .
# Two stages: build the wheel and its dependencies into a virtualenv, then copy only that
# virtualenv into a clean slim image that runs as an unprivileged numeric user.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/opgate
COPY . .
RUN /opt/opgate/bin/pip install .

FROM python:3.11-slim
LABEL org.opencontainers.image.title="opgate" \
      org.opencontainers.image.description="Admission webhooks, reconciler, simulator and RBAC review for the vworkspace Operation API" \
      org.opencontainers.image.source="https://github.com/vworkspace-io/opgate" \
      org.opencontainers.image.licenses="Apache-2.0"
# No .pyc writes: the root filesystem is read-only in the cluster (readOnlyRootFilesystem).
ENV PATH=/opt/opgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY --from=build /opt/opgate /opt/opgate
# 65532 is the conventional "nonroot" uid/gid; numeric so runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8443 8080
ENTRYPOINT ["opgate"]
CMD ["--help"]
