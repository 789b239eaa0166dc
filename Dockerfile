FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ratchet
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY targets ./targets
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENTRYPOINT ["node", "/opt/ratchet/bin/ratchet.js"]
