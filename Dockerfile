# Caddy with error_envelope, built with xcaddy in Caddy's builder image.
#
#   docker build -t caddy-errenvelope .
#   docker run -p 8080:8080 -v $PWD/Caddyfile:/etc/caddy/Caddyfile caddy-errenvelope
#
# CADDY_VERSION pins the release; keep it equal to xcaddy.mk and go.mod.
ARG CADDY_VERSION=2.11.9

FROM caddy:${CADDY_VERSION}-builder AS builder
ARG CADDY_VERSION
COPY . /src/caddy-errenvelope
# @v0.0.0 makes xcaddy take the module from /src instead of asking the proxy.
RUN xcaddy build v${CADDY_VERSION} \
	--with github.com/errenvelope/caddy-errenvelope@v0.0.0=/src/caddy-errenvelope

FROM caddy:${CADDY_VERSION}
COPY --from=builder /usr/bin/caddy /usr/bin/caddy
