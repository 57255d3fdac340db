# syntax=docker/dockerfile:1
# Image of redis-replication-operator.
#   docker build -t redis-replication-operator:0.1.0 .
# Runs as uid 1000 with only dist/ and the production dependencies; fits the chart's
# readOnlyRootFilesystem (the chart mounts an emptyDir at /tmp).

# A supported Node.js LTS line, pinned to a release and to the digest of its image: a tag can be moved,
# a digest cannot (Node.js 20 reached its end of life in April 2026). Not the newest 24.x patch: see
# docs/security.md (accepted risks). hack/image-build.sh overrides it with the same name, no digest.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim@sha256:48abc13a19400ca3985071e287bd405a1d99306770eb81d61202fb6b65cf0b57
ARG VERSION=0.1.0

# --- build: compile TypeScript (dev dependencies included) ---
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- deps: production dependencies only ---
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime ---
FROM ${NODE_IMAGE} AS runtime
ARG VERSION
LABEL org.opencontainers.image.title="redis-replication-operator" \
      org.opencontainers.image.description="Kubernetes operator for replicated Redis and Valkey: primary, replicas and cascading tiers, lag-aware reads, failover without Sentinel" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/${NODE_IMAGE}"
ENV NODE_ENV=production
WORKDIR /app
# package.json is needed at runtime: it makes dist/*.js ES modules ("type": "module").
COPY --from=deps --chown=0:0 /src/package.json ./package.json
COPY --from=deps --chown=0:0 /src/node_modules ./node_modules
COPY --from=build --chown=0:0 /src/dist ./dist
# The node user of the base image is uid/gid 1000; files stay owned by root (read-only to it).
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node","--optimize-for-size","dist/main.js"]
