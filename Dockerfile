# syntax=docker/dockerfile:1
# The moco-ts image: one image for every moco-ts program (docs/agent.md, "Image").
#
#   moco-controller  dist/src/controller/main.js   (the operator)
#   moco-agent       dist/src/agent/main.js        (the mysqld sidecar)
#   moco-backup      dist/src/backup/main.js       (backup and restore jobs; they also run
#                                                   mysql and mysqlbinlog from mysql-client-core)
#   kubectl-moco     dist/src/cli/kubectl-moco.js  (the kubectl plugin)
#
# test/integration/build/entrypoints.test.ts builds dist/ and checks each answers --help.
#
# The default entry point is the controller; the controller starts the agent sidecar
# with `command: ["moco-agent"]`. The mysqld image (the user's) runs moco-init as a sh
# script the controller generates, so nothing is copied from this image into it.
#
# Built on the development machines by test/env/build-images.sh (podman, no registry) with
# the two base images below overridden by build args (NODE_IMAGE: a local Node 24 on Debian
# bookworm, RUNTIME_IMAGE: the local Debian sid image with mysql-client-core); the defaults are
# the official images users build with.

ARG NODE_IMAGE=node:24-bookworm
# The runtime is Debian sid: it packages the MySQL 9.7 client tools (mysql, mysqlbinlog)
# that backup and restore jobs run; Node 24 is copied from the official image.
ARG RUNTIME_IMAGE=debian:sid-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the `node` devDependency would otherwise fetch a second Node binary;
# the base image already is Node 24.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# tsconfig.build.json compiles src/ (and sandbox/, not copied here) to dist/, rewriting
# the .ts import extensions to .js.
# (tsc run with the image's node, not through node_modules/.bin where the `node` package shims it)
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json
RUN npm prune --omit=dev --ignore-scripts

FROM ${NODE_IMAGE} AS node

# The time zone tables as SQL (spec.initializeTimezoneData): generated here once, copied into
# the mysqld Pod by the copy-moco-timezones init container, so the user's mysqld image needs
# neither mysql_tzinfo_to_sql nor zoneinfo (MOCO embeds the same output in moco-init).
FROM ${RUNTIME_IMAGE} AS timezones
RUN apt-get update \
 && apt-get install -y --no-install-recommends mysql-server-core tzdata \
 && mysql_tzinfo_to_sql /usr/share/zoneinfo >/timezones.sql 2>/dev/null \
 && grep -q "Asia/Tokyo" /timezones.sql

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends mysql-client-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=timezones /timezones.sql /usr/share/moco-ts/timezones.sql
# moco-controller's V8 heap flags: without them V8 lets garbage grow the heap to several times
# what is live (docs/performance.md#controller-at-scale, measured at 1000 MySQLClusters;
# bench/controller-scale.ts runs the controller with the flags of this line). Set the
# variable in the Pod to change them.
ENV MOCO_CONTROLLER_NODE_FLAGS="--max-semi-space-size=4 --max-old-space-size=160"
RUN set -eu; \
    for entry in moco-controller:controller/main moco-agent:agent/main moco-backup:backup/main kubectl-moco:cli/kubectl-moco; do \
      name=${entry%%:*}; target=${entry#*:}; flags=""; \
      if [ "$name" = moco-controller ]; then flags=' $MOCO_CONTROLLER_NODE_FLAGS'; fi; \
      printf '#!/bin/sh\nexec node%s /app/dist/src/%s.js "$@"\n' "$flags" "$target" >"/usr/local/bin/$name"; \
      chmod 0755 "/usr/local/bin/$name"; \
    done; \
    groupadd --gid 10000 moco; \
    useradd --uid 10000 --gid 10000 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin moco
USER 10000:10000
EXPOSE 9080 9081 8080
ENTRYPOINT ["moco-controller"]
