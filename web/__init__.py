"""The HTTP adapter: the public query window, the GS1 Digital Link resolver and the JSON API,
over the application layer (tracecode.app), on Starlette and uvicorn. It imports neither grpc
nor tracecode.v1."""
