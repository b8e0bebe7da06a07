# A PostgreSQL image made from Debian's server package, for where no registry is reachable (the container test
# uses it as POSTGRES_IMAGE). It keeps the official image's conventions: POSTGRES_USER, POSTGRES_PASSWORD,
# POSTGRES_DB, PGDATA, and /docker-entrypoint-initdb.d/*.sql run once on a new data directory.
#   podman build -f deploy/docker/postgres.Dockerfile -t localhost/musicstore-postgres:15 deploy/docker
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="musicstore-postgres" \
      org.opencontainers.image.description="PostgreSQL from Debian's packages, with the official image's conventions"
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d \
    && chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql
COPY --chmod=0755 postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint.sh
ENV PGDATA=/var/lib/postgresql/data
# Debian makes the postgres user when it installs the package: its id is whatever that gave it.
# hadolint ignore=DL3066
USER postgres
EXPOSE 5432
HEALTHCHECK --interval=5s --timeout=3s --retries=30 CMD ["pg_isready", "-h", "/var/run/postgresql"]
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
