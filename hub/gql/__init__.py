"""The GraphQL layer: translates between GraphQL and plans, nothing more."""
