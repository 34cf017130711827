"""The probe's wire: dial an API server (DNS, TCP, SOCKS/HTTP proxy, TLS) and speak
HTTP/1.1 on the connection, under one deadline, returning a typed trace of the phases or
raising typed errors (:mod:`ztctl.adapters.wire.errors`). Nothing here words a fix.
"""
