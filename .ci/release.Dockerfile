# The jwkspub tool as an image, built by GoReleaser (dockers_v2 in .goreleaser.yaml) from the
# static release binary. Not the nginx image that serves keys: that one comes from
# `jwkspub render` (templates/).
#
# distroless static: no shell, no package manager; CA certificates (Vault, object stores,
# verify --url) and tzdata only. It runs as uid/gid 65532 ("nonroot") and needs no writable
# path but where --metrics-file or a file:// target points, so it works with a read-only root
# filesystem. Re-pin the digest with `crane digest gcr.io/distroless/static-debian12:nonroot`.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
ARG TARGETPLATFORM
COPY $TARGETPLATFORM/jwkspub /usr/bin/jwkspub
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT ["/usr/bin/jwkspub"]
CMD ["--help"]
