# idem in a container: built with cgo (the SQLite driver, mattn/go-sqlite3,
# is C), run on a slim Debian as a non-root user, with the database on a
# volume.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t idem .
#   docker run -p 8080:8080 -v idem-data:/var/lib/idem idem

# Build: the golang image carries gcc and the C library headers cgo needs.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git is not copied (.dockerignore), so the build cannot stamp the commit:
# the version comes in as a build argument.
ARG VERSION=""
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X idem/app.Version=${VERSION}" -o /out/idem . \
 && /out/idem version

# Run: the same Debian release as the build (the binary links its glibc).
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/idem --create-home --shell /usr/sbin/nologin idem
COPY --from=build /out/idem /usr/local/bin/idem
ENV IDEM_ADDR=:8080 \
    IDEM_DB=/var/lib/idem/idem.db \
    IDEM_LOG_FORMAT=json
USER idem
WORKDIR /var/lib/idem
VOLUME /var/lib/idem
EXPOSE 8080
# idem healthcheck GETs /healthz on IDEM_ADDR (the image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/usr/local/bin/idem", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/idem"]
CMD ["serve"]
