"""The HTTP side: `hub` is the `Hub`, everything loaded at start-up; `app` is the
Starlette application that serves it (the front door of every request: key check,
request id, audit write, error mapping, health and metrics endpoints); `graphql_http`
speaks GraphQL over HTTP (content negotiation, body limits, status codes) without
knowing what the hub does.
"""
