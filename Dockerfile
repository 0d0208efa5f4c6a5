# Fulcrum in a distroless image: the static binary only, as a non-root user.
#   docker build -t fulcrum .
#   docker build --build-arg TAGS=nokubernetes -t fulcrum:edge .   # without the Kubernetes provider (make build-edge)
#   docker run --rm -p 8080:8080 -p 9901:9901 -v $PWD/fulcrum.yaml:/etc/fulcrum/fulcrum.yaml:ro fulcrum
# The configuration's admin.address must listen on 0.0.0.0 (with a
# token_file) to be reachable from outside the container. See docs/deploy.md.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG TAGS=""
RUN CGO_ENABLED=0 go build -trimpath -tags "${TAGS}" \
      -ldflags "-s -w ${VERSION:+-X github.com/fulcrumlb/fulcrum/internal/cli.Version=$VERSION}" \
      -o /out/fulcrum ./cmd/fulcrum

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fulcrum /usr/local/bin/fulcrum
WORKDIR /etc/fulcrum
EXPOSE 8080 9901
ENTRYPOINT ["/usr/local/bin/fulcrum"]
CMD ["serve", "-c", "/etc/fulcrum/fulcrum.yaml", "--log-format", "json"]
