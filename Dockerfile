# The Temporal CLI's own image: one static `temporal` binary, whose `server start-dev` is the
# standalone mode's Temporal when no Temporal is configured. The same tag docker-compose.yml runs.
FROM temporalio/temporal:1.5.1 AS temporal

# Build: compile TypeScript and bundle workflow code once, so workers start without webpack.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# `npm run image` puts an npm cache holding exactly this lock file's packages in .image-cache/, and
# npm installs from it offline, never from the host's npm config. Without it (`docker build .` with
# a registry) npm uses its default registry. The wildcard lets the COPY find no cache.
COPY package.json package-lock.json .image-cach[e] ./
RUN if [ -d npm-cache ]; then set -- --offline --cache /app/npm-cache; fi \
 && npm ci --ignore-scripts --no-audit --no-fund "$@"
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Production dependencies only, and one platform's Temporal core bridge: the package ships prebuilt
# binaries for five (about 27 MB each). npm's hidden lock file is only a cache for npm itself, and
# prune leaves the scopes it emptied.
RUN npm run build \
 && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund \
 && bridge="$(node -p "({ x64: 'x86_64', arm64: 'aarch64' })[process.arch]")-unknown-linux-gnu" \
 && test -d "node_modules/@temporalio/core-bridge/releases/$bridge" \
 && find node_modules/@temporalio/core-bridge/releases -mindepth 1 -maxdepth 1 ! -name "$bridge" -exec rm -rf {} + \
 && rm -f node_modules/.package-lock.json \
 && find node_modules -type d -empty -delete

# Runtime: production dependencies only, non-root.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=temporal /temporal /usr/local/bin/temporal
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root example ./example
# `valpop` is an alias so the operator's existing command line (`valpop populate ...`) works unchanged.
RUN chmod +x dist/cli/main.js \
 && ln -s /app/dist/cli/main.js /usr/local/bin/pushcache \
 && ln -s /app/dist/cli/main.js /usr/local/bin/valpop
# Node's module compile cache (the CLI keeps it in /app/.compile-cache), filled once here: every
# Job's pod starts with it instead of compiling the SDKs again (0.15-0.2 CPU-s a start).
# Read-only at run time is fine. No ENV: the operator's Job gets nothing but what it always had.
RUN node dist/cli/main.js populate --help > /dev/null && chmod -R a+rX /app/.compile-cache
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
