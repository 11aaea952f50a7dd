# Caddy with error_envelope, built with xcaddy in Caddy's builder image.
#
#   docker build -t caddy-errenvelope .
#   docker run -p 8080:8080 caddy-errenvelope                        # serves Caddyfile.example
#   docker run -p 8080:8080 -v "$PWD/Caddyfile:/etc/caddy/Caddyfile" -v "$PWD/catalogs:/srv/catalogs" caddy-errenvelope   # your own
#
# CADDY_RELEASE pins the Caddy release; keep it equal to xcaddy.mk and
# go.mod. (It is not called CADDY_VERSION: the builder image sets an
# environment variable of that name itself.)
ARG CADDY_RELEASE=2.11.9

FROM caddy:${CADDY_RELEASE}-builder AS builder
ARG CADDY_RELEASE
COPY . /src/caddy-errenvelope
# @v0.0.0 makes xcaddy take the module from /src instead of asking the proxy.
RUN xcaddy build v${CADDY_RELEASE} \
	--output /usr/bin/caddy \
	--with github.com/errenvelope/caddy-errenvelope@v0.0.0=/src/caddy-errenvelope

FROM caddy:${CADDY_RELEASE}
COPY --from=builder /usr/bin/caddy /usr/bin/caddy
# The image's working directory is /srv: catalog paths such as
# catalogs/apig.json resolve there, as they do in a clone of the repository.
COPY catalogs /srv/catalogs
COPY Caddyfile.example /etc/caddy/Caddyfile
