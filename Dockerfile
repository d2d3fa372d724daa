# qnb as a container: a scheduler beside Qdrant and Neo4j (docs/container.md).
#
#   docker build -t qnb .
#   docker run -d -v /var/run/docker.sock:/var/run/docker.sock --group-add "$(stat -c %g /var/run/docker.sock)" \
#     -v qnb-backups:/backups -e QDRANT_URL=http://qdrant:6333 -e NEO4J_CONTAINER=label:qnb.neo4j=true … qnb
#
# Stages (BuildKit builds only what the last stage needs):
#   base       the runtime: Node.js 20 (NODE_IMAGE), user qnb (uid/gid 7474), /backups, entrypoint,
#              healthcheck
#   prebuilt   tests only (scripts/docker/build-qnb-image.sh, `--target prebuilt`): the runtime with
#              dist/, production node_modules/ and a docker CLI that the script prepared in
#              .qnb-prebuilt/, so that no registry is needed
#   build      npm ci + tsc, then production dependencies only
#   docker-cli Debian's docker CLI (package docker.io); only /usr/bin/docker is kept
#   (last)     the image: base + build + docker-cli
ARG NODE_IMAGE=node:20-bookworm-slim
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${NODE_IMAGE} AS base
# uid/gid 7474 = the official Neo4j image's neo4j user: the dumps neo4j-admin writes into the
# backups volume are then qnb's own (another uid works too: qnb copies them instead of renaming).
# npm and yarn are not needed at run time
RUN rm -rf /usr/local/lib/node_modules/npm /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/yarn* /opt/yarn-* \
 && groupadd --gid 7474 qnb \
 && useradd --uid 7474 --gid 7474 --home-dir /home/qnb --create-home --shell /usr/sbin/nologin qnb \
 && mkdir -p /backups /opt/qnb \
 && chown qnb:qnb /backups \
 && printf '#!/bin/sh\nexec node /opt/qnb/dist/cli/main.js "$@"\n' >/usr/local/bin/qnb \
 && chmod 0755 /usr/local/bin/qnb
COPY docker/healthcheck.mjs /opt/qnb/healthcheck.mjs
ENV NODE_ENV=production \
    QNB_BACKUP_DIR=/backups
WORKDIR /backups
VOLUME ["/backups"]
# The Docker socket's group is not known here: give it at run time (`--group-add GID`, compose
# `group_add`); without it qnb can back up Qdrant but not stop/start/dump a Neo4j container.
USER qnb
# healthy = `qnb status --json` says ok: every target has a recent good backup and its last run
# did not fail (QNB_MAX_AGE, default 26h); unhealthy until the first backup set exists.
HEALTHCHECK --interval=5m --timeout=2m --start-period=1m --retries=2 \
  CMD ["node", "/opt/qnb/healthcheck.mjs"]
ENTRYPOINT ["qnb"]
CMD ["schedule"]

FROM base AS prebuilt
# .qnb-prebuilt/ = opt/qnb/{dist,node_modules,package.json} and usr/local/bin/docker, merged into /
# (the glob keeps a build without it working: Dockerfile is always there, and is removed)
COPY Dockerfile .qnb-prebuil[t] /
USER root
RUN rm /Dockerfile && if [ -d /opt/qnb/dist ]; then qnb --version; fi
USER qnb

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts \
 && mkdir -p /out/opt/qnb \
 && cp -a dist node_modules package.json /out/opt/qnb/

FROM ${DEBIAN_IMAGE} AS docker-cli
RUN apt-get update \
 && apt-get install -y --no-install-recommends docker.io \
 && mkdir -p /out/usr/local/bin \
 && cp /usr/bin/docker /out/usr/local/bin/docker

FROM base
COPY --from=build /out/ /
COPY --from=docker-cli /out/ /
