"""The HTTP side: `app` is the Starlette application and the `Hub` it serves (the
front door of every request: key check, request id, audit write, error mapping,
health and metrics endpoints); `graphql_http` speaks GraphQL over HTTP (content
negotiation, body limits, status codes) without knowing what the hub does.
"""
