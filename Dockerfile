# The API's production image: `docker build -t chatbox-voice-api .` (see docs/deploy.md).

# --- build: everything installed, src/ compiled, the page built, then the dev dependencies dropped ---
FROM node:24-bookworm-slim AS build
WORKDIR /app

# The manifests alone first, so that a change to the sources reuses the installed dependencies.
COPY package.json package-lock.json ./
# --ignore-scripts: the project's `prepare` script would build the page from web/, which is not
# copied yet (`npm run build` below builds it). It also skips the dependencies' install scripts,
# which is safe for this lockfile: esbuild's only checks its binary and protobufjs's only warns.
# A dependency that compiles a native addon at install time would need `npm rebuild` after this.
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY . .
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime: the compiled API and its runtime dependencies, nothing else ---
FROM node:24-bookworm-slim AS runtime
# HOST=0.0.0.0: the API binds 127.0.0.1 by default, which nothing outside the container reaches.
# A non-loopback HOST makes AUTH_MODE default to `required`, so the container refuses to start
# without an ADMIN_API_KEY of 32 characters or more (that is intended).
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000 DATA_DIR=/data
WORKDIR /app

# Owned by root and read-only to the `node` user: the process writes only under /data.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist

# Created and chowned before VOLUME, because changes to a volume path after VOLUME are discarded.
# A new named volume starts with this ownership; a bind mount keeps the host's (uid 1000 must write).
# /data holds the embedded database and local audio, used only without DATABASE_URL / S3_BUCKET_NAME.
RUN mkdir -p /data && chown node:node /data
VOLUME /data

USER node
EXPOSE 8000

# /readyz is 200 once the database answers. slim has no curl, so Node asks, and gives up after 4 s.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# SIGTERM (Docker's default; stated for clarity) makes the API drain replies in flight for up to
# SHUTDOWN_TIMEOUT_MS (20 s), hand back its audio jobs (up to 10 s) and close the database. Docker
# waits only 10 s before SIGKILL, so give it more: `docker stop -t 45`, `docker run --stop-timeout 45`,
# compose `stop_grace_period: 45s`, ECS `stopTimeout: 45`.
STOPSIGNAL SIGTERM
# Exec form: node is PID 1 and receives SIGTERM itself (a shell would not pass it on). main.ts
# handles the signal, and the API starts no child processes, so no init process is needed to reap them.
CMD ["node", "dist/main.js"]
