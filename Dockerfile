# keytrail server image. Built without the embedded engine (-tags nochdb): in
# containers keytrail talks to a ClickHouse server (see docker-compose.yml).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The version the binary and its evidence packs name: `make image` passes
# git describe (.git is not in the build context); docker compose passes
# KEYTRAIL_VERSION.
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -tags nochdb -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/keytrail ./cmd/keytrail

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keytrail /usr/local/bin/keytrail
USER nonroot
ENTRYPOINT ["/usr/local/bin/keytrail"]
CMD ["status"]
