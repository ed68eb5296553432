# syntax=docker/dockerfile:1
# Build: compile TypeScript and bundle workflow code once, so workers start without webpack.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev
# The Temporal CLI: `populate` runs its dev server when no Temporal is configured (standalone
# mode, the frontend operator's Job as it is). Fetched with node, which this image already has.
ARG PUSHCACHE_TEMPORAL_CLI_VERSION=1.5.1
ARG TARGETARCH=amd64
RUN node -e "fetch('https://temporal.download/cli/archive/v' + process.env.PUSHCACHE_TEMPORAL_CLI_VERSION + '?platform=linux&arch=' + process.env.TARGETARCH).then(async (r) => { if (!r.ok) throw new Error('temporal CLI download: HTTP ' + r.status); require('fs').writeFileSync('/tmp/temporal.tar.gz', Buffer.from(await r.arrayBuffer())); })" \
 && tar -xzf /tmp/temporal.tar.gz -C /usr/local/bin temporal \
 && rm /tmp/temporal.tar.gz \
 && /usr/local/bin/temporal --version

# Runtime: production dependencies only, non-root.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /usr/local/bin/temporal /usr/local/bin/temporal
COPY --chown=root:root example ./example
# `valpop` is an alias so the operator's existing command line (`valpop populate ...`) works unchanged.
RUN chmod +x dist/cli/main.js \
 && ln -s /app/dist/cli/main.js /usr/local/bin/pushcache \
 && ln -s /app/dist/cli/main.js /usr/local/bin/valpop
# The image's `node` user, by number, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# The worker's Prometheus endpoint (/metrics) and its probes (/livez, /readyz).
EXPOSE 9464 8080
# The same image runs the long-lived worker and one-shot commands (the Job's populate, prune,
# schedule apply). The check asks the worker's liveness endpoint, so a worker that stopped
# answering turns unhealthy; where nothing listens (a one-shot command, judged by its exit code)
# it passes. Kubernetes ignores HEALTHCHECK and uses the probes in deploy/ instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD ["node", "/app/dist/worker/healthcheck.js"]
ENTRYPOINT ["pushcache"]
CMD ["--help"]
