"""`tracecode serve`: the supervisor of worker processes that each run the gRPC adapter
(tracecode.v1), the HTTP adapter (tracecode.web), or both, on shared SO_REUSEPORT ports."""
