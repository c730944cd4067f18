# One image: supervisord runs the API, the agent worker and (when no LIVEKIT_URL is set) the
# embedded LiveKit server with the phone line (Redis, LiveKit's SIP service), from the same
# supervisord.conf and start_all.sh as on a laptop.

# The embedded LiveKit server, built from its Go module at the pinned tag.
FROM golang:1.26-bookworm AS livekit
RUN go install github.com/livekit/livekit-server/cmd/server@v1.13.5

# LiveKit's SIP service, built as scripts/install_livekit_sip.sh builds it.
FROM golang:1.26-bookworm AS sip
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config libopus-dev libopusfile-dev libsoxr-dev \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/install_livekit_sip.sh /src/scripts/
RUN /src/scripts/install_livekit_sip.sh

FROM python:3.11-slim-bookworm
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 API_HOST=0.0.0.0
# Caddy serves HTTPS in public mode (PUBLIC_HOST); it may bind 80 and 443 as the non-root user.
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng nodejs npm caddy libcap2-bin \
       redis-server libopus0 libopusfile0 libsoxr0 \
    && setcap cap_net_bind_service=+ep /usr/bin/caddy \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 10001 ornina \
    && mkdir -p /srv/ornina \
    && chown ornina:ornina /srv/ornina
WORKDIR /srv/ornina
USER ornina

COPY --chown=ornina:ornina requirements.txt requirements-dev.txt package.json package-lock.json ./
COPY --chown=ornina:ornina scripts/ scripts/
COPY --chown=ornina:ornina --from=livekit /go/bin/server bin/livekit-server
COPY --chown=ornina:ornina --from=sip /src/bin/livekit-sip /src/bin/.livekit-sip.version bin/
RUN scripts/bootstrap.sh

COPY --chown=ornina:ornina personas.py supervisord.conf start_all.sh .env.example pyproject.toml ./
COPY --chown=ornina:ornina config/ config/
COPY --chown=ornina:ornina app/ app/
COPY --chown=ornina:ornina agent/ agent/
# Model files the worker needs (VAD, turn detector), fetched at build time as the same user.
RUN .venv/bin/python -m agent download-files
RUN mkdir -p logs data

VOLUME ["/srv/ornina/data"]
# local mode: 8000 (page and API) and 7880 (LiveKit); public mode: 80, 443, 7881, the UDP
# media range and, with TURN on, 5349 (docker-compose.public.yml); the phone line: SIP on 5060
# (UDP and TCP) and its UDP media range
EXPOSE 8000 7880 80 443 7881 5349 50000-50100/udp 5060/udp 5060/tcp 10000-10100/udp
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD .venv/bin/python -m app.healthcheck
CMD ["./start_all.sh"]
