# Stand-in for MinIO's image (quay.io/minio/minio), laid out as upstream: /usr/bin/minio and
# /usr/bin/mc, an entry point that runs `minio ARGS` unless given another program, /data a volume,
# running as root. The base is the Debian minbase the node stand-in uses (upstream: UBI micro).
ARG BASE
FROM ${BASE}
COPY minio mc docker-entrypoint.sh /usr/bin/
EXPOSE 9000
VOLUME ["/data"]
ENTRYPOINT ["/usr/bin/docker-entrypoint.sh"]
CMD ["minio"]
