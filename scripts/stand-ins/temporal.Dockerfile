# Stand-in for the Temporal CLI's image (temporalio/temporal), laid out as upstream builds it:
# FROM scratch, the static binary at /temporal, CA certificates, user 1000, entry point the CLI.
FROM scratch
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY temporal /temporal
USER 1000:1000
ENTRYPOINT ["/temporal"]
